//! The Python this engine's interpreters import, compiled to bytecode and frozen into the binary.
//!
//! Four sources are frozen, so the embedded RustPython interpreter imports them without reading
//! the disk:
//!
//! - a curated part of RustPython's Python standard library, listed in `stdlib-modules.txt` (the
//!   one place to add a module; it says why the list is curated);
//! - `python/remotemedia`: the very package pip users install — one copy of every node, so the
//!   binary and CPython run the same code;
//! - `stdlib-shim/`: replacements for the few standard-library pieces RustPython lacks or
//!   gets wrong that the nodes need (each shim says what it replaces and why);
//! - `embedded/_remotemedia_embedded.py`: set-up only the binary's interpreter runs (stdout and
//!   stderr routed to the runtime, the import path).
//!
//! The sources are compiled when the crate builds; `build.rs` makes any `.py` edit rebuild it.

use rustpython_vm::InterpreterBuilder;
use rustpython_vm::frozen::{FrozenLib, FrozenModule};

/// `py_freeze!` of the modules `build.rs` copied out of RustPython's `Lib/`, and of the SDK
/// (`remotemedia-python-sdk`), which it wrote out.
static STDLIB: &FrozenLib = include!(concat!(env!("OUT_DIR"), "/frozen_stdlib.rs"));
static SDK: &FrozenLib = include!(concat!(env!("OUT_DIR"), "/frozen_sdk.rs"));
static SHIMS: &FrozenLib = rustpython_vm::py_freeze!(dir = "../stdlib-shim");
static EMBEDDED: &FrozenLib = rustpython_vm::py_freeze!(
    file = "../embedded/_remotemedia_embedded.py",
    module_name = "_remotemedia_embedded"
);

/// Adds the standard library to an interpreter: every native (Rust) module of `rustpython-stdlib`
/// and the curated Python modules of `stdlib-modules.txt`. It replaces `rustpython`'s
/// `init_stdlib`, which freezes all of `Lib/` or else reads it from disk.
pub trait CuratedStdlib {
    #[must_use]
    fn init_curated_stdlib(self) -> Self;
}

impl CuratedStdlib for InterpreterBuilder {
    fn init_curated_stdlib(self) -> Self {
        let native = rustpython_stdlib::stdlib_module_defs(&self.ctx);
        self.add_native_modules(&native)
            .add_frozen_modules(stdlib_modules())
    }
}

/// The curated standard library's Python modules, as `(module name, bytecode)`.
pub fn stdlib_modules() -> impl Iterator<Item = (&'static str, FrozenModule)> {
    STDLIB.into_iter()
}

/// The SDK's modules (`remotemedia`, `remotemedia.nodes`, …), as `(module name, bytecode)`.
pub fn sdk_modules() -> impl Iterator<Item = (&'static str, FrozenModule)> {
    SDK.into_iter()
}

/// `_remotemedia_embedded`: the set-up only the binary's interpreter runs (stdout/stderr routing,
/// import path); see that module's docstring.
pub fn embedded_modules() -> impl Iterator<Item = (&'static str, FrozenModule)> {
    EMBEDDED.into_iter()
}

/// The standard-library shims, as `(module name, bytecode)`.
///
/// Register them after the frozen standard library, so each replaces the module it is named after.
pub fn shim_modules() -> impl Iterator<Item = (&'static str, FrozenModule)> {
    SHIMS.into_iter()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_sdk_package_and_its_catalogue_are_frozen() {
        let names: Vec<&str> = super::sdk_modules().map(|(name, _)| name).collect();
        for expected in [
            "remotemedia",
            "remotemedia.nodes",
            "remotemedia.core.driver",
        ] {
            assert!(
                names.contains(&expected),
                "{expected} is not frozen; frozen: {names:?}"
            );
        }
    }
}
