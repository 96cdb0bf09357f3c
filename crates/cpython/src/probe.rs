//! Asking a located interpreter what the engine needs to load it: its shared libpython and its
//! import path.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde::Deserialize;

use remotemedia_core::{env_vars, process};

/// The oldest CPython the bridge runs on: it is built for the stable ABI of this version (abi3).
pub const MIN_VERSION: (u32, u32) = (3, 10);

/// How long the interpreter may take to answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(20);

/// Printed by the interpreter as one JSON object; runs on any Python 3.
const PROBE_SCRIPT: &str = r#"
import json, os, sys, sysconfig
var = sysconfig.get_config_var
libdirs = [d for d in (var("LIBDIR"), var("LIBPL"), os.path.join(sys.base_prefix, "lib")) if d]
names = [n for n in (var("INSTSONAME"), var("LDLIBRARY")) if n]
libraries = [os.path.join(d, n) for n in names for d in libdirs]
if var("PYTHONFRAMEWORKPREFIX") and var("LDLIBRARY"):
    libraries.insert(0, os.path.join(var("PYTHONFRAMEWORKPREFIX"), var("LDLIBRARY")))
print(json.dumps({
    "executable": sys.executable,
    "implementation": sys.implementation.name,
    "version": list(sys.version_info[:3]),
    "shared": bool(var("Py_ENABLE_SHARED") or var("PYTHONFRAMEWORK")),
    "gil_disabled": bool(var("Py_GIL_DISABLED")),
    "libraries": libraries,
    "base_prefix": sys.base_prefix,
    "prefix": sys.prefix,
    "exec_prefix": sys.exec_prefix,
    "path": [p for p in sys.path if p],
}))
"#;

/// A CPython installation, as its own interpreter describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PythonInstallation {
    /// The interpreter that was asked (`sys.executable`).
    pub executable: PathBuf,
    /// `(major, minor, micro)`.
    pub version: (u32, u32, u32),
    /// The shared libpython to load.
    pub library: PathBuf,
    /// `sys.base_prefix`: where the standard library is (PYTHONHOME of the embedded interpreter).
    pub home: PathBuf,
    /// `sys.prefix` and `sys.exec_prefix` (a virtualenv's own, when one is used).
    pub prefix: PathBuf,
    pub exec_prefix: PathBuf,
    /// `sys.path` without the script directory: the standard library, site-packages, `.pth`
    /// additions and `PYTHONPATH`.
    pub path: Vec<PathBuf>,
}

/// The interpreter cannot be used by the engine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    #[error("cannot ask {} about its installation: {reason}", python.display())]
    Failed { python: PathBuf, reason: String },
    #[error(
        "{} is {found}; the CPython engine needs CPython {}.{} or newer (set {var} to another interpreter)",
        python.display(), MIN_VERSION.0, MIN_VERSION.1, var = env_vars::PYTHON
    )]
    Unsupported { python: PathBuf, found: String },
    #[error(
        "{} has no shared libpython (it was built without --enable-shared), so it cannot be loaded; \
         set {var} to an interpreter that has one (e.g. the system python3, or pyenv with \
         PYTHON_CONFIGURE_OPTS=--enable-shared)",
        python.display(), var = env_vars::PYTHON
    )]
    NoSharedLibrary { python: PathBuf },
}

#[derive(Deserialize)]
struct ProbeAnswer {
    executable: PathBuf,
    implementation: String,
    version: (u32, u32, u32),
    shared: bool,
    gil_disabled: bool,
    libraries: Vec<PathBuf>,
    base_prefix: PathBuf,
    prefix: PathBuf,
    exec_prefix: PathBuf,
    path: Vec<PathBuf>,
}

impl PythonInstallation {
    /// Runs `python` once to describe its installation; fails when the engine cannot use it.
    pub fn probe(python: &Path) -> Result<PythonInstallation, ProbeError> {
        let failed = |reason: String| ProbeError::Failed {
            python: python.to_owned(),
            reason,
        };
        let stdout = process::output_within(
            Command::new(python).args(["-c", PROBE_SCRIPT]),
            PROBE_TIMEOUT,
        )
        .map_err(|why| failed(why.to_string()))?;
        let answer: ProbeAnswer = serde_json::from_str(stdout.trim())
            .map_err(|err| failed(format!("unexpected answer ({err}): {}", stdout.trim())))?;
        let (major, minor, micro) = answer.version;
        let unsupported = |found: String| ProbeError::Unsupported {
            python: python.to_owned(),
            found,
        };
        if answer.implementation != "cpython" {
            return Err(unsupported(format!(
                "{} {major}.{minor}",
                answer.implementation
            )));
        }
        if (major, minor) < MIN_VERSION {
            return Err(unsupported(format!("CPython {major}.{minor}.{micro}")));
        }
        if answer.gil_disabled {
            return Err(unsupported(format!(
                "a free-threaded CPython {major}.{minor} (the engine needs the default build)"
            )));
        }
        let library = answer
            .libraries
            .iter()
            .find(|candidate| candidate.is_file())
            .filter(|_| answer.shared)
            .cloned()
            .ok_or_else(|| ProbeError::NoSharedLibrary {
                python: python.to_owned(),
            })?;
        Ok(PythonInstallation {
            executable: answer.executable,
            version: answer.version,
            library,
            home: answer.base_prefix,
            prefix: answer.prefix,
            exec_prefix: answer.exec_prefix,
            path: answer.path,
        })
    }

    /// `CPython 3.11.7 (/usr/bin/python3)`.
    pub fn describe(&self) -> String {
        let (major, minor, micro) = self.version;
        format!(
            "CPython {major}.{minor}.{micro} ({})",
            self.executable.display()
        )
    }
}
