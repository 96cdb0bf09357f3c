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
    seccomp::install(std::process::id())?;
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
        // Truncating a file by path: Landlock governs it from ABI 3 (Linux 6.2) only.
        // (ftruncate stays: the worker grows its arena by descriptor.)
        libc::SYS_truncate,
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

    /// System calls that send a signal, with the argument naming the target process: allowed
    /// only when it is this process (Landlock's signal scope does the same from ABI 6, Linux
    /// 6.12; this holds on older kernels). `kill(0, …)` reaches this process's group, which is
    /// the worker alone; `kill(-1, …)`, every process the user may signal, is refused.
    const SIGNALS: &[libc::c_long] = &[
        libc::SYS_kill,
        libc::SYS_tgkill,
        libc::SYS_rt_sigqueueinfo,
        libc::SYS_rt_tgsigqueueinfo,
    ];

    /// Installs the filters on every thread of the process, whose id is `pid`.
    pub(super) fn install(pid: u32) -> Result<(), SandboxError> {
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
        // A signal to another process (pid_t, the first argument) is refused; to this one, or
        // its own group (0), it goes through. pidfd_send_signal needs a descriptor of the target
        // that the filter cannot read: refused, as is tkill (a thread id of any process).
        let first_argument_is_not = |value: u32| {
            SeccompCondition::new(
                0,
                SeccompCmpArgLen::Dword,
                SeccompCmpOp::Ne,
                u64::from(value),
            )
            .map_err(|err| error(&err))
        };
        for &call in SIGNALS {
            // The conditions of a rule must all hold: the target is neither this process nor,
            // for kill, its own group.
            let mut conditions = vec![first_argument_is_not(pid)?];
            if call == libc::SYS_kill {
                conditions.push(first_argument_is_not(0)?);
            }
            denied.insert(
                call,
                vec![SeccompRule::new(conditions).map_err(|err| error(&err))?],
            );
        }
        denied.insert(libc::SYS_tkill, Vec::new());
        denied.insert(libc::SYS_pidfd_send_signal, Vec::new());
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
        let mut filters = vec![clone3, filter];
        #[cfg(target_arch = "x86_64")]
        filters.push(x32(arch)?);
        for filter in filters {
            let program: BpfProgram = filter.try_into().map_err(|err| error(&err))?;
            seccompiler::apply_filter_all_threads(&program).map_err(|err| error(&err))?;
        }
        Ok(())
    }

    /// The x32 ABI's system call numbers: the x86-64 numbers with this bit set. A kernel built
    /// with x32 support takes them from an x86-64 process under the same audit architecture, so a
    /// filter listing only the x86-64 numbers would let `socket`, `clone` or `execve` through
    /// under their x32 numbers (seccompiler's architecture check does not look at this bit).
    #[cfg(target_arch = "x86_64")]
    pub(super) const X32_SYSCALL_BIT: libc::c_long = 0x4000_0000;

    /// The last x32 system call number the filter refuses: the x32 table is the shared numbers
    /// (0–467 in Linux 6.18) and x32's own entries 512–547; the margin covers calls added later.
    #[cfg(target_arch = "x86_64")]
    const X32_LAST: libc::c_long = 599;

    /// Every x32 system call fails with `EPERM`: nothing in a worker uses that ABI. (On kernels
    /// without x32, the default since Linux 5.x in most distributions, they fail with `ENOSYS`
    /// anyway; this closes the hole where it is enabled, e.g. Debian's `syscall.x32=y`.)
    #[cfg(target_arch = "x86_64")]
    fn x32(arch: TargetArch) -> Result<SeccompFilter, SandboxError> {
        let calls = (0..=X32_LAST).map(|call| (X32_SYSCALL_BIT | call, Vec::new()));
        SeccompFilter::new(
            calls.collect(),
            SeccompAction::Allow,
            SeccompAction::Errno(libc::EPERM as u32),
            arch,
        )
        .map_err(|err| SandboxError::Seccomp(err.to_string()))
    }
}

#[cfg(all(test, target_os = "linux", target_arch = "x86_64"))]
mod tests {
    use std::process::Command;

    /// Set in the process that installs the filter: a filter cannot be removed, so the test runs
    /// this test binary again, for this one test, and the filter goes with that process.
    const FILTERED_CHILD: &str = "REMOTEMEDIA_TEST_SECCOMP_CHILD";

    /// True in the child that runs test `name` alone, where it may install the filter for good;
    /// in the test process itself, runs that child, checks it passed, and gives false.
    fn in_filtered_child(name: &str) -> bool {
        if std::env::var_os(FILTERED_CHILD).is_some() {
            return true;
        }
        let status = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", name, "--test-threads=1"])
            .env(FILTERED_CHILD, "1")
            .status()
            .unwrap();
        assert!(status.success(), "the filtered child failed: {status}");
        false
    }

    /// `(return value, errno)` of a raw system call with three zero arguments.
    fn call(number: libc::c_long) -> (libc::c_long, i32) {
        // SAFETY: every number given below fails before it reads its (null) arguments, or is
        // getpid; none changes the process.
        let result = unsafe { libc::syscall(number, 0, 0, 0) };
        (
            result,
            std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
        )
    }

    #[test]
    fn the_filter_refuses_calls_under_their_x32_numbers_too() {
        if !in_filtered_child(
            "sandbox::tests::the_filter_refuses_calls_under_their_x32_numbers_too",
        ) {
            return;
        }
        let pid = std::process::id();
        super::seccomp::install(pid).unwrap();
        let x32 = super::seccomp::X32_SYSCALL_BIT;
        // Without the x32 rules these answer ENOSYS here (a kernel without x32) or do what they
        // do (a kernel with it): the filter must answer first.
        for number in [
            x32 | libc::SYS_socket,
            x32 | libc::SYS_execve,
            x32 | 520,
            x32 | libc::SYS_getpid,
        ] {
            assert_eq!(
                call(number),
                (-1, libc::EPERM),
                "x32 call {}",
                number & !x32
            );
        }
        // The x86-64 numbers: socket refused, clone3 sent to clone, getpid untouched.
        assert_eq!(call(libc::SYS_socket), (-1, libc::EPERM));
        assert_eq!(call(libc::SYS_clone3), (-1, libc::ENOSYS));
        assert_eq!(call(libc::SYS_getpid).0, libc::c_long::from(pid));
    }

    #[test]
    fn the_filter_refuses_signals_to_other_processes_and_truncating_by_path() {
        if !in_filtered_child(
            "sandbox::tests::the_filter_refuses_signals_to_other_processes_and_truncating_by_path",
        ) {
            return;
        }
        let pid = std::process::id();
        super::seccomp::install(pid).unwrap();
        let errno = || std::io::Error::last_os_error().raw_os_error();
        // SAFETY: signal 0 only checks that the target could be signalled.
        let kill = |target: libc::pid_t| unsafe { libc::kill(target, 0) };
        // The parent (the test runner), any process (-1): refused; this process and its group: not.
        assert_eq!(
            (
                kill(std::os::unix::process::parent_id() as libc::pid_t),
                errno()
            ),
            (-1, Some(libc::EPERM))
        );
        assert_eq!((kill(-1), errno()), (-1, Some(libc::EPERM)));
        assert_eq!(kill(pid as libc::pid_t), 0);
        assert_eq!(kill(0), 0);
        // Without the filter: ENOENT.
        // SAFETY: a NUL-terminated path that does not exist.
        let truncated = unsafe { libc::truncate(c"/nonexistent/remotemedia".as_ptr(), 0) };
        assert_eq!((truncated, errno()), (-1, Some(libc::EPERM)));
    }
}
