//! Copies the curated standard library out of RustPython's `Lib/` and rebuilds this crate whenever
//! a frozen Python source changes.
//!
//! `py_freeze!` compiles a directory inside a proc macro and only takes a path literal, so the
//! modules listed in `stdlib-modules.txt` are copied into `OUT_DIR/Lib`, and a generated file
//! holds the `py_freeze!` call with that path for `src/lib.rs` to `include!`.
//!
//! Cargo does not know a proc macro read files; pointing `rerun-if-changed` at the source trees
//! (cargo scans a directory recursively) and at the list makes an edited, added or removed `.py`
//! file, or an edited list, rebuild the binary. RustPython's `Lib/` is a pinned registry package
//! and does not change.

use std::fs;
use std::path::{Path, PathBuf};

const STDLIB_LIST: &str = "stdlib-modules.txt";

fn main() {
    for tree in ["../../python", "../../python-stdlib-shim", "embedded", STDLIB_LIST] {
        println!("cargo:rerun-if-changed={tree}");
    }
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let frozen_lib = out_dir.join("Lib");
    copy_curated_stdlib(Path::new(rustpython_pylib::LIB_PATH), &frozen_lib);
    let freeze_call = format!(
        "rustpython_vm::py_freeze!(dir = {:?})\n",
        frozen_lib
            .to_str()
            .expect("OUT_DIR is valid UTF-8 (py_freeze! takes a string literal)")
    );
    fs::write(out_dir.join("frozen_stdlib.rs"), freeze_call).expect("write frozen_stdlib.rs");
}

/// Copies every module and package named in the list from `lib` into `destination`, emptied first
/// so a name removed from the list is no longer frozen.
fn copy_curated_stdlib(lib: &Path, destination: &Path) {
    let list = fs::read_to_string(STDLIB_LIST).expect("read stdlib-modules.txt");
    if destination.exists() {
        fs::remove_dir_all(destination).expect("empty the previous curated Lib copy");
    }
    for (line_number, line) in list.lines().enumerate() {
        let name = line.split('#').next().unwrap_or_default().trim();
        if name.is_empty() {
            continue;
        }
        let parts: Vec<&str> = name.split('.').collect();
        // A submodule brings its enclosing packages' __init__.py, which Python imports first.
        for depth in 1..parts.len() {
            let init = parts[..depth].iter().collect::<PathBuf>().join("__init__.py");
            copy_file(&lib.join(&init), &destination.join(&init));
        }
        let relative: PathBuf = parts.iter().collect();
        let package = lib.join(&relative);
        let module = lib.join(&relative).with_extension("py");
        if package.join("__init__.py").is_file() {
            copy_python_tree(&package, &destination.join(&relative));
        } else if module.is_file() {
            copy_file(&module, &destination.join(relative.with_extension("py")));
        } else {
            panic!(
                "{STDLIB_LIST}:{}: `{name}` is neither a module nor a package in {}",
                line_number + 1,
                lib.display()
            );
        }
    }
}

/// Copies the `.py` files of a package and its subpackages (data files and tests' fixtures are
/// not Python modules and are not frozen).
fn copy_python_tree(source: &Path, destination: &Path) {
    for entry in fs::read_dir(source).unwrap_or_else(|err| panic!("list {}: {err}", source.display())) {
        let path = entry.expect("read a directory entry").path();
        let target = destination.join(path.file_name().expect("an entry has a name"));
        if path.is_dir() {
            copy_python_tree(&path, &target);
        } else if path.extension().is_some_and(|ext| ext == "py") {
            copy_file(&path, &target);
        }
    }
}

fn copy_file(source: &Path, destination: &Path) {
    if let Some(parent) = destination.parent() {
        fs::create_dir_all(parent).unwrap_or_else(|err| panic!("create {}: {err}", parent.display()));
    }
    fs::copy(source, destination)
        .unwrap_or_else(|err| panic!("copy {} to {}: {err}", source.display(), destination.display()));
}
