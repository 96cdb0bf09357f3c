//! Fingerprints the sources the bridge's interface is made of (this crate and `remotemedia-core`),
//! so an executable refuses a bridge library left from an older build of the same version rather
//! than calling into it with types laid out differently (see `bridge_abi`).

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let roots = [manifest.join("src"), manifest.join("../core/src")];
    let mut files = Vec::new();
    for root in &roots {
        println!("cargo:rerun-if-changed={}", root.display());
        collect(root, &mut files);
    }
    files.sort();
    let mut hasher = DefaultHasher::new();
    for file in &files {
        let contents = std::fs::read(file).expect("a source file is readable");
        file.strip_prefix(&manifest)
            .unwrap_or(file)
            .hash(&mut hasher);
        contents.hash(&mut hasher);
    }
    println!(
        "cargo:rustc-env=REMOTEMEDIA_BRIDGE_SOURCES={:016x}",
        hasher.finish()
    );
}

fn collect(directory: &Path, files: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(directory).expect("a source directory is readable");
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}
