//! The Python SDK's sources (`python/remotemedia`), embedded in the binary: the one place that
//! knows which files make the SDK (internal crate).
//!
//! Both engines that run Python nodes use the SDK the executable was built with, whatever is
//! installed on the machine: the CPython engine serves these sources through an import hook
//! ([`MODULES`]); the RustPython engine compiles them to bytecode at build time ([`write_tree`]
//! from its build script, then `py_freeze!`).

use std::path::Path;

/// One module of `python/remotemedia`.
#[derive(Debug, Clone, Copy)]
pub struct SdkModule {
    /// The dotted module name, e.g. `remotemedia.core.node`.
    pub name: &'static str,
    /// Shown in tracebacks: `python/remotemedia/...`, relative to the repository.
    pub path: &'static str,
    /// A package (`__init__.py`).
    pub is_package: bool,
    pub source: &'static str,
}

/// Every module of the SDK, sorted by path.
pub static MODULES: &[SdkModule] = include!(concat!(env!("OUT_DIR"), "/sdk_modules.rs"));

/// Writes the SDK's modules as a source tree under `root` (`root/remotemedia/...`).
pub fn write_tree(root: &Path) -> std::io::Result<()> {
    for module in MODULES {
        let relative = module
            .path
            .strip_prefix("python/")
            .expect("every SDK path starts with python/");
        let file = root.join(relative);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(file, module.source)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_package_and_its_contract_module_are_embedded() {
        let names: Vec<&str> = super::MODULES.iter().map(|module| module.name).collect();
        for expected in [
            "remotemedia",
            "remotemedia.engine_api",
            "remotemedia.core.node",
        ] {
            assert!(
                names.contains(&expected),
                "{expected} missing from {names:?}"
            );
        }
        let package = super::MODULES
            .iter()
            .find(|m| m.name == "remotemedia")
            .unwrap();
        assert!(package.is_package && package.path == "python/remotemedia/__init__.py");
    }
}
