//! Finding the CPython interpreter to load, without starting anything.

use std::path::{Path, PathBuf};

use remotemedia_core::env_vars;

/// No usable interpreter was found; the message says where we looked and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocateError {
    #[error("{var}={} is not an executable file; point it at a python interpreter (e.g. /usr/bin/python3)", path.display(), var = env_vars::PYTHON)]
    NotExecutable { path: PathBuf },
    #[error(
        "no CPython found: {var} is not set, no virtualenv is active and there is no python3 on PATH; install python3 or set {var}=/path/to/python",
        var = env_vars::PYTHON
    )]
    NotFound,
}

/// The interpreter to use: [`env_vars::PYTHON`] when set (it must then be usable: a typo is an
/// error, not a silent fallback), else the active virtualenv's python (`VIRTUAL_ENV`), else
/// `python3` (then `python`) on `PATH`.
pub fn locate() -> Result<PathBuf, LocateError> {
    if let Some(explicit) = std::env::var_os(env_vars::PYTHON).filter(|value| !value.is_empty()) {
        let path = PathBuf::from(explicit);
        return if is_executable(&path) {
            Ok(path)
        } else {
            Err(LocateError::NotExecutable { path })
        };
    }
    if let Some(venv) = std::env::var_os("VIRTUAL_ENV").filter(|value| !value.is_empty()) {
        let bin = if cfg!(windows) { "Scripts" } else { "bin" };
        for name in ["python3", "python"] {
            let candidate = Path::new(&venv).join(bin).join(executable_name(name));
            if is_executable(&candidate) {
                return Ok(candidate);
            }
        }
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["python3", "python"] {
        for dir in std::env::split_paths(&path).filter(|dir| !dir.as_os_str().is_empty()) {
            let candidate = dir.join(executable_name(name));
            if is_executable(&candidate) {
                return Ok(candidate);
            }
        }
    }
    Err(LocateError::NotFound)
}

fn executable_name(name: &str) -> String {
    format!("{name}{}", std::env::consts::EXE_SUFFIX)
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}
