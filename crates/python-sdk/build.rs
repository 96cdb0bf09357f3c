//! Lists the Python SDK's sources (`python/remotemedia`) as a table of `include_str!`s, and makes
//! any edited, added or removed `.py` file rebuild the crates that embed it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let python_root = manifest_dir.join("../../python");
    let package = python_root.join("remotemedia");
    println!("cargo:rerun-if-changed={}", package.display());
    let mut files = Vec::new();
    collect(&package, &mut files);
    files.sort();
    let mut table = String::from("&[\n");
    for file in &files {
        let relative = file.strip_prefix(&python_root).expect("under python/");
        let is_package = file.file_name().is_some_and(|name| name == "__init__.py");
        let mut module: Vec<String> = relative
            .with_extension("")
            .components()
            .map(|part| part.as_os_str().to_string_lossy().into_owned())
            .collect();
        if is_package {
            module.pop();
        }
        let absolute = file.canonicalize().expect("listed file exists");
        writeln!(
            table,
            "    SdkModule {{ name: {:?}, path: {:?}, is_package: {is_package}, source: include_str!({:?}) }},",
            module.join("."),
            format!("python/{}", relative.display()),
            absolute.display().to_string(),
        )
        .expect("writing to a String");
    }
    table.push(']');
    let out =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo")).join("sdk_modules.rs");
    std::fs::write(out, table).expect("OUT_DIR is writable");
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|err| panic!("cannot list {}: {err}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            if path.file_name().is_some_and(|name| name != "__pycache__") {
                collect(&path, files);
            }
        } else if path.extension().is_some_and(|ext| ext == "py") {
            files.push(path);
        }
    }
}
