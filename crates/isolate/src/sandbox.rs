//! The sandbox a worker enters before it creates its node (`"isolation": "sandbox"`).
//!
//! Four layers, each enforced by the kernel, not by Python (docs/isolation.md says what each
//! guarantees and on which kernels):
//!
//! 1. **Landlock**: the worker may read files and list directories only beneath the Python path
//!    and the interpreter's own directories (plus `/dev/null`, `/dev/zero`, `/dev/urandom`); it
//!    may write, create, remove or truncate nothing by path; TCP bind/connect are refused (ABI 4+);
//!    signals and abstract Unix sockets outside the sandbox are out of reach (ABI 6+). A kernel
//!    without Landlock makes the worker refuse to run rather than run unsandboxed.
//! 2. **seccomp**: no sockets (`socket` fails; `socketpair`, which reaches nothing, is left for
//!    asyncio), no new processes (`fork`, `vfork`, `clone` without `CLONE_THREAD`, `execve`), no
//!    ptrace, mounts, namespaces, BPF, kernel modules, keyrings, io_uring … Each fails with `EPERM`,
//!    which Python raises as `PermissionError` in the node instead of the process being killed.
//! 3. **rlimits**: address space (allocations past it fail: `MemoryError`) and CPU time (past it,
//!    SIGXCPU ends the worker); see [`Limits`].
//! 4. **A cleaned environment**: the worker starts with [`worker_env`] only.

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::Limits;

/// The environment variable the worker's Python SDK reads to add its audit hook, which turns what
/// the kernel would refuse into a `PermissionError` naming the action (CPython only).
pub const SANDBOX_ENV: &str = "REMOTEMEDIA_SANDBOX";

/// Variables a sandboxed worker keeps from the parent's environment: how to find the interpreter
/// and the runtime's own settings, nothing that could carry a secret.
const KEPT_VARIABLES: &[&str] = &[
    "PATH",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "PYTHONHOME",
    "PYTHONPATH",
    "VIRTUAL_ENV",
    "RUST_LOG",
    "RUST_BACKTRACE",
    remotemedia_core::env_vars::PYTHON,
    remotemedia_core::env_vars::PYTHON_PATH,
    remotemedia_core::env_vars::PYTHON_RUNTIME,
    remotemedia_core::env_vars::CPYTHON_BRIDGE,
    "REMOTEMEDIA_NATIVE_MODULE",
];

/// Why the sandbox cannot be entered.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(
        "the sandbox needs Landlock, which this kernel does not offer ({0}); refusing to run the node unsandboxed (Linux 5.13 or newer with Landlock enabled, see docs/isolation.md)"
    )]
    NoLandlock(String),
    #[error("the sandbox is only available on Linux")]
    Unsupported,
    #[error(
        "{0} threads are running in the worker; the sandbox must be entered while it has one, so that none escapes it"
    )]
    Threads(usize),
    #[error("Landlock: {0}")]
    Landlock(String),
    #[error("seccomp: {0}")]
    Seccomp(String),
}

/// The environment of a sandboxed worker: [`KEPT_VARIABLES`] from this one, and [`SANDBOX_ENV`].
pub fn worker_env() -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = KEPT_VARIABLES
        .iter()
        .filter_map(|name| std::env::var_os(name).map(|value| ((*name).into(), value)))
        .collect();
    env.push((SANDBOX_ENV.into(), "1".into()));
    env
}

/// Applies the resource limits to this process.
pub fn apply_limits(limits: &Limits) -> io::Result<()> {
    fn set(resource: libc::__rlimit_resource_t, soft: u64, hard: u64) -> io::Result<()> {
        let limit = libc::rlimit {
            rlim_cur: soft as libc::rlim_t,
            rlim_max: hard as libc::rlim_t,
        };
        // SAFETY: setrlimit reads the struct it is given and nothing else.
        if unsafe { libc::setrlimit(resource, &limit) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
    if let Some(mb) = limits.memory_mb {
        let bytes = mb.saturating_mul(1024 * 1024);
        set(libc::RLIMIT_AS, bytes, bytes)?;
    }
    if let Some(seconds) = limits.cpu_seconds {
        // SIGXCPU at the soft limit; SIGKILL one second later if it is caught.
        set(libc::RLIMIT_CPU, seconds, seconds.saturating_add(1))?;
    }
    Ok(())
}

/// The Landlock ABI version this kernel offers, or why there is none.
pub fn landlock_abi() -> Result<u32, String> {
    #[cfg(target_os = "linux")]
    {
        const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
        // SAFETY: the documented version query: no ruleset attributes, size 0, the version flag.
        let version = unsafe {
            libc::syscall(
                libc::SYS_landlock_create_ruleset,
                std::ptr::null::<libc::c_void>(),
                0usize,
                LANDLOCK_CREATE_RULESET_VERSION,
            )
        };
        if version < 1 {
            let err = io::Error::last_os_error();
            return Err(match err.raw_os_error() {
                Some(libc::ENOSYS) => "the kernel predates Landlock".to_owned(),
                Some(libc::EOPNOTSUPP) => {
                    "Landlock is built in but not enabled (add it to the lsm= boot parameter)"
                        .to_owned()
                }
                _ => err.to_string(),
            });
        }
        Ok(version as u32)
    }
    #[cfg(not(target_os = "linux"))]
    Err("not Linux".to_owned())
}

/// Checks, in the parent, that a worker could enter the sandbox here.
pub fn check_available() -> Result<u32, SandboxError> {
    if !cfg!(target_os = "linux") {
        return Err(SandboxError::Unsupported);
    }
    landlock_abi().map_err(SandboxError::NoLandlock)
}

/// What [`enter`] enforced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxReport {
    pub landlock_abi: u32,
    /// Whether every Landlock right asked for is enforced (false on kernels older than the
    /// newest ABI this build knows: the filesystem rules still are).
    pub fully_enforced: bool,
    pub readable: Vec<PathBuf>,
}

impl fmt::Display for SandboxReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sandbox entered: Landlock ABI {} ({}), seccomp filter, readable: {}",
            self.landlock_abi,
            if self.fully_enforced {
                "fully enforced"
            } else {
                "partially enforced"
            },
            self.readable
                .iter()
                .map(|path| path.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// Enters the sandbox for good: Landlock with `readable` (existing paths only) read-only, then the
/// seccomp filter. The process must have one thread: rules apply to the calling thread and the
/// threads it starts later, so a thread started before would escape them.
#[cfg(target_os = "linux")]
pub fn enter(readable: &[PathBuf]) -> Result<SandboxReport, SandboxError> {
    let abi = check_available()?;
    let threads = std::fs::read_dir("/proc/self/task").map_or(1, |tasks| tasks.count());
    if threads != 1 {
        return Err(SandboxError::Threads(threads));
    }
    let mut readable: Vec<PathBuf> = readable
        .iter()
        .filter_map(|path| std::fs::canonicalize(path).ok())
        .collect();
    readable.extend(
        ["/dev/null", "/dev/zero", "/dev/urandom"]
            .into_iter()
            .map(PathBuf::from),
    );
    readable.sort();
    readable.dedup();
    let fully_enforced = landlock::restrict(&readable)?;
    seccomp::install()?;
    Ok(SandboxReport {
        landlock_abi: abi,
        fully_enforced,
        readable,
    })
}

#[cfg(not(target_os = "linux"))]
pub fn enter(_readable: &[PathBuf]) -> Result<SandboxReport, SandboxError> {
    Err(SandboxError::Unsupported)
}

#[cfg(target_os = "linux")]
mod landlock {
    use std::path::PathBuf;

    use landlock::{
        ABI, Access, AccessFs, AccessNet, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus,
        Scope, path_beneath_rules,
    };

    use super::SandboxError;

    /// The newest ABI this build knows; older kernels enforce what they have (best effort), and
    /// a kernel with none was refused before.
    const ABI_WANTED: ABI = ABI::V6;

    /// Restricts this thread (and those it starts) to reading `readable`; returns whether every
    /// right asked for is enforced.
    pub(super) fn restrict(readable: &[PathBuf]) -> Result<bool, SandboxError> {
        let error = |err: landlock::RulesetError| SandboxError::Landlock(err.to_string());
        let read = AccessFs::ReadFile | AccessFs::ReadDir;
        let status = Ruleset::default()
            .handle_access(AccessFs::from_all(ABI_WANTED))
            .map_err(error)?
            .handle_access(AccessNet::from_all(ABI_WANTED))
            .map_err(error)?
            .scope(Scope::from_all(ABI_WANTED))
            .map_err(error)?
            .create()
            .map_err(error)?
            .add_rules(path_beneath_rules(readable, read))
            .map_err(error)?
            .restrict_self()
            .map_err(error)?;
        match status.ruleset {
            RulesetStatus::NotEnforced => Err(SandboxError::Landlock(
                "the kernel enforced none of the rules".to_owned(),
            )),
            RulesetStatus::PartiallyEnforced => Ok(false),
            RulesetStatus::FullyEnforced => Ok(true),
        }
    }
}

#[cfg(target_os = "linux")]
mod seccomp {
    use std::collections::BTreeMap;

    use seccompiler::{
        BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
        SeccompRule, TargetArch,
    };

    use super::SandboxError;

    /// System calls that fail with `EPERM` in the sandbox, whatever their arguments.
    const DENIED: &[libc::c_long] = &[
        // Network: no socket can be made (socketpair stays: it reaches nothing outside).
        libc::SYS_socket,
        // New programs.
        libc::SYS_execve,
        libc::SYS_execveat,
        // Other processes' memory, tracing.
        libc::SYS_ptrace,
        libc::SYS_process_vm_readv,
        libc::SYS_process_vm_writev,
        libc::SYS_pidfd_getfd,
        // Mounts and namespaces.
        libc::SYS_mount,
        libc::SYS_umount2,
        libc::SYS_pivot_root,
        libc::SYS_chroot,
        libc::SYS_unshare,
        libc::SYS_setns,
        libc::SYS_open_tree,
        libc::SYS_move_mount,
        libc::SYS_fsopen,
        libc::SYS_fsconfig,
        libc::SYS_fsmount,
        libc::SYS_fspick,
        libc::SYS_mount_setattr,
        // The kernel itself: BPF, perf, modules, keyrings, kexec, reboot, swap, clock, accounting.
        libc::SYS_bpf,
        libc::SYS_perf_event_open,
        libc::SYS_init_module,
        libc::SYS_finit_module,
        libc::SYS_delete_module,
        libc::SYS_kexec_load,
        libc::SYS_kexec_file_load,
        libc::SYS_reboot,
        libc::SYS_swapon,
        libc::SYS_swapoff,
        libc::SYS_keyctl,
        libc::SYS_add_key,
        libc::SYS_request_key,
        libc::SYS_acct,
        libc::SYS_settimeofday,
        libc::SYS_clock_settime,
        libc::SYS_sethostname,
        libc::SYS_setdomainname,
        libc::SYS_quotactl,
        libc::SYS_syslog,
        libc::SYS_userfaultfd,
        libc::SYS_fanotify_init,
        libc::SYS_open_by_handle_at,
        libc::SYS_name_to_handle_at,
        // io_uring runs system calls the filter would not see.
        libc::SYS_io_uring_setup,
        libc::SYS_io_uring_enter,
        libc::SYS_io_uring_register,
        #[cfg(target_arch = "x86_64")]
        libc::SYS_fork,
        #[cfg(target_arch = "x86_64")]
        libc::SYS_vfork,
        #[cfg(target_arch = "x86_64")]
        libc::SYS_iopl,
        #[cfg(target_arch = "x86_64")]
        libc::SYS_ioperm,
    ];

    /// Installs the filters on every thread of the process.
    pub(super) fn install() -> Result<(), SandboxError> {
        let error = |err: &dyn std::fmt::Display| SandboxError::Seccomp(err.to_string());
        let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(|err| error(&err))?;
        let mut denied: BTreeMap<i64, Vec<SeccompRule>> =
            DENIED.iter().map(|&call| (call, Vec::new())).collect();
        // clone makes threads (allowed: Python and the engines use them) and processes (refused):
        // refused when CLONE_THREAD is not among its flags (the first argument).
        let new_process = SeccompCondition::new(
            0,
            SeccompCmpArgLen::Qword,
            SeccompCmpOp::MaskedEq(libc::CLONE_THREAD as u64),
            0,
        )
        .map_err(|err| error(&err))?;
        denied.insert(
            libc::SYS_clone,
            vec![SeccompRule::new(vec![new_process]).map_err(|err| error(&err))?],
        );
        let filter = SeccompFilter::new(
            denied,
            SeccompAction::Allow,
            SeccompAction::Errno(libc::EPERM as u32),
            arch,
        )
        .map_err(|err| error(&err))?;
        // clone3 passes its flags in memory a filter cannot read: it answers ENOSYS, on which
        // the C library falls back to clone, checked above.
        let clone3 = SeccompFilter::new(
            BTreeMap::from([(libc::SYS_clone3, Vec::new())]),
            SeccompAction::Allow,
            SeccompAction::Errno(libc::ENOSYS as u32),
            arch,
        )
        .map_err(|err| error(&err))?;
        for filter in [clone3, filter] {
            let program: BpfProgram = filter.try_into().map_err(|err| error(&err))?;
            seccompiler::apply_filter_all_threads(&program).map_err(|err| error(&err))?;
        }
        Ok(())
    }
}
