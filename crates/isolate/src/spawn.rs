//! Starting a worker process and learning how it ended.
//!
//! Every worker is started by one long-lived thread of the parent: the kernel delivers the
//! parent-death signal when the *thread* that forked the child exits, so a worker started by a
//! stage thread (or a server's short-lived blocking thread) would be killed when that thread ends
//! rather than when the process does.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::shm;

/// The worker's end of the channel, and its two arenas (to the worker, from the worker), are
/// these file descriptors in the worker.
pub const CHANNEL_FD: i32 = 3;
pub const ARENA_IN_FD: i32 = 4;
pub const ARENA_OUT_FD: i32 = 5;
/// The read end of the control pipe, in the worker: the parent writes the number of a call it
/// asks the worker to interrupt (see `worker::run`).
pub const CONTROL_FD: i32 = 6;
/// The parent's array pool, read-only, in a worker that may borrow arrays (see `lend`).
pub const POOL_FD: i32 = 7;

/// How many of a worker's last stderr lines an error quotes.
const STDERR_TAIL_LINES: usize = 20;

/// The program that runs workers: this executable's hidden subcommand, unless the process
/// embedding the runtime says otherwise with [`set_worker_command`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerCommand {
    pub program: PathBuf,
    pub args: Vec<OsString>,
}

static WORKER_COMMAND: OnceLock<WorkerCommand> = OnceLock::new();

/// Sets how workers are started, for a process whose own executable is not `remotemedia` (the
/// Python package's console command runs the CLI inside `python`). The first call wins.
pub fn set_worker_command(command: WorkerCommand) {
    let _ = WORKER_COMMAND.set(command);
}

/// The command that starts a worker.
pub fn worker_command() -> io::Result<WorkerCommand> {
    if let Some(command) = WORKER_COMMAND.get() {
        return Ok(command.clone());
    }
    Ok(WorkerCommand {
        program: std::env::current_exe()?,
        args: vec![crate::WORKER_SUBCOMMAND.into()],
    })
}

/// A started worker: its channel, arenas, control pipe, process and stderr.
#[derive(Debug)]
pub struct Spawned {
    pub channel: UnixStream,
    /// The write end of the control pipe, non-blocking: a worker that never reads it cannot hold
    /// the parent up.
    pub control: File,
    pub arena_to_worker: File,
    pub arena_from_worker: File,
    pub process: WorkerProcess,
}

/// The worker's process and the tail of its stderr.
#[derive(Debug)]
pub struct WorkerProcess {
    child: Child,
    tail: Arc<Mutex<VecDeque<String>>>,
    stderr: Option<JoinHandle<()>>,
    status: Option<ExitStatus>,
}

/// Starts the worker from the spawner thread. `env` replaces the environment when given; `pool`
/// is the array pool's file the worker may borrow from.
pub fn spawn(
    command: &WorkerCommand,
    env: Option<Vec<(OsString, OsString)>>,
    pool: Option<&File>,
    label: &str,
) -> io::Result<Spawned> {
    let (channel, worker_end) = UnixStream::pair()?;
    let arena_to_worker = shm::memfd("remotemedia-arena-to-worker")?;
    let arena_from_worker = shm::memfd("remotemedia-arena-from-worker")?;
    let (control_read, control) = control_pipe()?;
    let mut cmd = Command::new(&command.program);
    cmd.args(&command.args)
        .stdin(Stdio::null())
        // stdout carries the run's results: whatever the node's native code writes there goes
        // to stderr instead.
        .stdout(Stdio::from(io::stderr().as_fd().try_clone_to_owned()?))
        .stderr(Stdio::piped())
        // Terminal signals (Ctrl-C) go to the parent alone, which stops the run and then its
        // workers in order.
        .process_group(0);
    if let Some(env) = env {
        cmd.env_clear().envs(env);
    }
    let fds = [
        (worker_end.as_raw_fd(), CHANNEL_FD),
        (arena_to_worker.as_raw_fd(), ARENA_IN_FD),
        (arena_from_worker.as_raw_fd(), ARENA_OUT_FD),
        (control_read.as_raw_fd(), CONTROL_FD),
        (pool.map_or(-1, AsRawFd::as_raw_fd), POOL_FD),
    ];
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: only async-signal-safe calls (fcntl, dup2, prctl, getppid) between fork and exec,
    // on file descriptors this function owns; nothing is allocated.
    unsafe {
        cmd.pre_exec(move || {
            // Move the descriptors out of the way first, so putting one on 3..=7 cannot close
            // another that happens to sit there. A missing one (-1) stays closed.
            let mut high = [-1; 5];
            for (slot, (fd, _)) in high.iter_mut().zip(fds) {
                if fd < 0 {
                    continue;
                }
                *slot = libc::fcntl(fd, libc::F_DUPFD, 10);
                if *slot < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            for (fd, (_, target)) in high.into_iter().zip(fds) {
                if fd >= 0 && libc::dup2(fd, target) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            // Die with the parent, also when it is killed with SIGKILL. A parent that died
            // before this line was not seen by the kernel: check it is still the one.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    let mut child = on_spawner_thread(move || cmd.spawn())?;
    drop(worker_end);
    drop(control_read);
    let stderr = child.stderr.take().expect("stderr is piped");
    let tail = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_TAIL_LINES)));
    let stderr = {
        let tail = Arc::clone(&tail);
        let label = label.to_owned();
        std::thread::Builder::new()
            .name(format!("{label} stderr"))
            .spawn(move || forward_stderr(stderr, &tail))?
    };
    Ok(Spawned {
        channel,
        control: File::from(control),
        arena_to_worker,
        arena_from_worker,
        process: WorkerProcess {
            child,
            tail,
            stderr: Some(stderr),
            status: None,
        },
    })
}

/// The control pipe: its read end (for the worker) and its non-blocking write end (the parent's).
fn control_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two new descriptors into `fds`, which this function then owns.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: just created above, owned by nothing else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: F_SETFL on a descriptor this function owns.
    if unsafe { libc::fcntl(write.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((read, write))
}

/// Copies the worker's stderr to ours line by line (the engines label their lines with the node
/// id already), keeping the last lines for an error message.
fn forward_stderr(stderr: impl io::Read, tail: &Mutex<VecDeque<String>>) {
    let mut lines = BufReader::new(stderr);
    let mut line = Vec::new();
    loop {
        line.clear();
        match lines.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let _ = io::stderr().lock().write_all(&line);
                let text = String::from_utf8_lossy(&line).trim_end().to_owned();
                let mut tail = tail.lock().unwrap_or_else(PoisonError::into_inner);
                if tail.len() == STDERR_TAIL_LINES {
                    tail.pop_front();
                }
                tail.push_back(text);
            }
        }
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// Runs `job` on the process's spawner thread, started on first use and kept for the process's
/// life, and returns its result.
fn on_spawner_thread<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> T {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("remotemedia worker spawner".to_owned())
            .spawn(move || {
                for job in queue {
                    job();
                }
            })
            .expect("the operating system refused the worker spawner thread");
        Mutex::new(jobs)
    });
    let (reply, answer) = mpsc::sync_channel(1);
    let job: Job = Box::new(move || {
        let _ = reply.send(job());
    });
    spawner
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .send(job)
        .expect("the spawner thread lives as long as the process");
    answer.recv().expect("the spawner thread answers every job")
}

impl WorkerProcess {
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the worker to end, killing it if it has not within `grace`; returns how it ended.
    pub fn end(&mut self, grace: Duration) -> ExitStatus {
        if let Some(status) = self.status {
            return status;
        }
        let deadline = Instant::now() + grace;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                _ => {
                    let _ = self.child.kill();
                    match self.child.wait() {
                        Ok(status) => break status,
                        // Already reaped elsewhere cannot happen: this is the only owner.
                        Err(_) => break ExitStatus::from_raw(libc::SIGKILL),
                    }
                }
            }
        };
        self.status = Some(status);
        // The stderr thread ends with the pipe; a grandchild that kept it open must not hold
        // the error back, so its end is waited for briefly.
        if let Some(thread) = self.stderr.take() {
            let deadline = Instant::now() + Duration::from_millis(500);
            while !thread.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
        status
    }

    /// The worker's last stderr lines.
    pub fn stderr_tail(&self) -> Vec<String> {
        self.tail
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        self.end(Duration::ZERO);
    }
}

/// How a worker ended, for people: `exited with status 3`, `was killed by signal 11 (SIGSEGV:
/// invalid memory access)`.
pub fn describe(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exited with status {code}");
    }
    let Some(signal) = status.signal() else {
        return format!("ended ({status})");
    };
    let what = match signal {
        libc::SIGSEGV => "SIGSEGV: invalid memory access",
        libc::SIGBUS => "SIGBUS: invalid memory access",
        libc::SIGABRT => "SIGABRT: aborted",
        libc::SIGILL => "SIGILL: illegal instruction",
        libc::SIGFPE => "SIGFPE: arithmetic error",
        libc::SIGKILL => "SIGKILL: killed by the kernel's out-of-memory killer or from outside",
        libc::SIGXCPU => "SIGXCPU: its CPU time limit was exceeded",
        libc::SIGXFSZ => "SIGXFSZ: its file size limit was exceeded",
        libc::SIGSYS => "SIGSYS: a system call the sandbox forbids",
        libc::SIGTERM => "SIGTERM: terminated from outside",
        libc::SIGINT => "SIGINT: interrupted",
        libc::SIGPIPE => "SIGPIPE: wrote to a closed pipe",
        _ => "",
    };
    let core = if status.core_dumped() {
        ", core dumped"
    } else {
        ""
    };
    if what.is_empty() {
        format!("was killed by signal {signal}{core}")
    } else {
        format!("was killed by signal {signal} ({what}{core})")
    }
}
