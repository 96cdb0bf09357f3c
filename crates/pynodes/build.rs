//! Rebuilds this crate whenever a frozen Python source changes.
//!
//! `py_freeze!` compiles the Python sources inside a proc macro, and cargo does not know a proc
//! macro read those files; pointing `rerun-if-changed` at the two source trees (cargo scans a
//! directory recursively) makes an edited, added or removed `.py` file rebuild the binary.

fn main() {
    for tree in ["../../python", "../../python-stdlib-shim", "embedded"] {
        println!("cargo:rerun-if-changed={tree}");
    }
}
