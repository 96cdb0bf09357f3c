//! The worker's side: serve one node to the parent until the channel closes.

use std::io::{BufReader, BufWriter, Read};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use remotemedia_core::engine::{
    Emitter, Engine, Interrupt, NodeError, NodeInstance, NodeSpec, Stopped,
};
use remotemedia_core::value::Value;

use crate::lend::Borrowed;
use crate::shm::{ArenaReader, ArenaWriter};
use crate::spawn::{ARENA_IN_FD, ARENA_OUT_FD, CHANNEL_FD, CONTROL_FD, POOL_FD};
use crate::wire::{FromWorker, Receiver, Sender, ToWorker, WireError};
use crate::{WorkerConfig, sandbox};

/// The engine a worker serves its node with, as the executable builds it.
pub struct WorkerEngine {
    pub engine: Arc<dyn Engine>,
    /// Directories the node may read in the sandbox besides the Python path: the interpreter's
    /// standard library and site-packages.
    pub readable: Vec<PathBuf>,
}

impl std::fmt::Debug for WorkerEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerEngine")
            .field("engine", &self.engine.name())
            .field("readable", &self.readable)
            .finish()
    }
}

/// Why a worker stopped without serving its node to the end.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(
        "this command is started by remotemedia itself for an isolated node, with its channel on file descriptor {CHANNEL_FD}"
    )]
    NotAWorker,
    #[error("the channel to the parent failed: {0}")]
    Channel(#[from] WireError),
    #[error("writing to the parent failed: {0}")]
    Write(#[from] std::io::Error),
    #[error("the parent sent an invalid configuration: {0}")]
    Config(#[from] serde_json::Error),
    #[error("the parent sent {0} out of turn")]
    OutOfTurn(String),
}

type Out = Sender<BufWriter<UnixStream>>;
type In = Receiver<BufReader<UnixStream>>;

/// Serves one node: reads its configuration, applies the limits, builds the engine with `build`,
/// enters the sandbox when asked, creates the node and runs each step the parent asks for. Returns
/// when the parent closes the channel (after cleanup, or when the parent is gone).
pub fn run(
    build: impl FnOnce(&WorkerConfig) -> Result<WorkerEngine, String>,
) -> Result<(), WorkerError> {
    let (channel, arena_in, arena_out) = inherited()?;
    let control = optional_fd(CONTROL_FD);
    let reader = channel.try_clone()?;
    let mut out = Sender::new(BufWriter::new(channel), ArenaWriter::new(arena_out));
    let mut arena_in = ArenaReader::new(arena_in);
    if let Some(pool) = optional_fd(POOL_FD) {
        let pool = Borrowed::new(pool);
        out = out.returning(pool.returned());
        arena_in = arena_in.borrowing(pool);
    }
    let mut input = Receiver::new(BufReader::new(reader), arena_in);

    let (config, params) = match input.recv_from_parent()? {
        ToWorker::Start { config, params } => {
            (serde_json::from_str::<WorkerConfig>(&config)?, params)
        }
        other => return Err(WorkerError::OutOfTurn(format!("{other:?}"))),
    };
    let calls = Arc::new(Calls::default());
    let node = match create(&config, params, build) {
        Ok(node) => {
            // The thread that takes the parent's requests to interrupt a call: started after the
            // sandbox is entered (which needs a single thread; its rules then bind this one too).
            if let (Some(control), Some(interrupter)) = (control, node.interrupter()) {
                let calls = Arc::clone(&calls);
                let taking = std::thread::Builder::new()
                    .name("interrupts".to_owned())
                    .spawn(move || take_interrupts(control, &calls, interrupter.as_ref()));
                if let Err(err) = taking {
                    // The parent then ends this worker when it does not answer an interruption.
                    tracing::warn!(
                        node = config.node.id,
                        "interruptions cannot be taken: {err}"
                    );
                }
            }
            out.send_to_parent(&FromWorker::Ready(Ok(())))?;
            node
        }
        Err(error) => {
            out.send_to_parent(&FromWorker::Ready(Err(error)))?;
            // The parent closes the channel; nothing else is asked of this worker.
            return match input.recv_from_parent() {
                Err(WireError::Closed) => Ok(()),
                Err(err) => Err(err.into()),
                Ok(other) => Err(WorkerError::OutOfTurn(format!("{other:?}"))),
            };
        }
    };
    serve(node, &mut input, &mut out, &calls)
}

/// The node's calls that the parent may ask to interrupt (`process` and `flush`), numbered from 1
/// in the order the parent asks for them, as the parent numbers them.
#[derive(Default)]
struct Calls {
    state: Mutex<CallsState>,
}

#[derive(Default)]
struct CallsState {
    /// The call in progress; 0 between calls.
    current: u64,
    /// The last call that returned.
    done: u64,
}

impl Calls {
    fn lock(&self) -> MutexGuard<'_, CallsState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs call number `number`.
    fn run<T>(&self, number: u64, call: impl FnOnce() -> T) -> T {
        self.lock().current = number;
        let result = call();
        let mut state = self.lock();
        state.current = 0;
        state.done = number;
        result
    }

    /// Interrupts call `call` if it is in progress; whether it is still to come or in progress.
    /// The lock is held while the node's interrupter is called, so the interruption cannot reach
    /// a later call: call `call` cannot be seen to end meanwhile.
    fn interrupt(&self, call: u64, interrupter: &dyn Interrupt) -> bool {
        let state = self.lock();
        if state.current == call {
            interrupter.interrupt();
        }
        state.done < call
    }
}

/// How long a request to interrupt a call is pursued before it is given up: the parent ends a
/// worker that has not answered long before (see `engine::ANSWER_BOUND`).
const PURSUE: Duration = Duration::from_secs(10);
/// How often the node's interrupter is called again while the call has not taken it.
const REPEAT: Duration = Duration::from_millis(5);

/// A descriptor the parent may have given (the control pipe, the array pool), if it did.
fn optional_fd(fd: i32) -> Option<std::fs::File> {
    // SAFETY: F_GETFD only reads the descriptor's flags; -1 means it is not open.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return None;
    }
    // SAFETY: open (checked above), put there for this process by its parent, owned by nothing
    // else in this process.
    let file = unsafe { OwnedFd::from_raw_fd(fd) };
    // Not passed on to anything this worker might start.
    let _ = rustix::io::fcntl_setfd(&file, rustix::io::FdFlags::CLOEXEC);
    Some(file.into())
}

/// Reads the numbers of the calls the parent asks to interrupt and interrupts each through the
/// node's own interrupter, as the executor does in-process: only while that call is in progress
/// (a request for a call that already returned does nothing; one that came before the call
/// started waits for it), again every [`REPEAT`] until the call returns, since an engine takes
/// an interruption only once it has armed the call (asking twice does no harm).
fn take_interrupts(mut control: std::fs::File, calls: &Calls, interrupter: &dyn Interrupt) {
    let mut number = [0u8; 8];
    while control.read_exact(&mut number).is_ok() {
        let call = u64::from_le_bytes(number);
        let until = Instant::now() + PURSUE;
        while calls.interrupt(call, interrupter) && Instant::now() < until {
            std::thread::sleep(REPEAT);
        }
    }
}

/// The channel and the two arenas the parent put on file descriptors 3, 4 and 5.
fn inherited() -> Result<(UnixStream, std::fs::File, std::fs::File), WorkerError> {
    match (
        optional_fd(CHANNEL_FD),
        optional_fd(ARENA_IN_FD),
        optional_fd(ARENA_OUT_FD),
    ) {
        (Some(channel), Some(arena_in), Some(arena_out)) => Ok((
            UnixStream::from(OwnedFd::from(channel)),
            arena_in,
            arena_out,
        )),
        _ => Err(WorkerError::NotAWorker),
    }
}

/// Limits, engine, sandbox, node: in that order, so the sandbox is entered after the engine has
/// loaded what it needs and before any user code is imported.
fn create(
    config: &WorkerConfig,
    params: Value,
    build: impl FnOnce(&WorkerConfig) -> Result<WorkerEngine, String>,
) -> Result<Box<dyn NodeInstance>, NodeError> {
    sandbox::apply_limits(&config.limits)
        .map_err(|err| NodeError::new(format!("cannot set the worker's limits: {err}")))?;
    let built = build(config).map_err(NodeError::new)?;
    built.engine.warm_up()?;
    if config.sandbox {
        let mut readable = config.python_path.clone();
        readable.extend(built.readable.iter().cloned());
        let report = sandbox::enter(&readable)
            .map_err(|err| NodeError::new(format!("cannot enter the sandbox: {err}")))?;
        tracing::debug!(node = config.node.id, "{report}");
    }
    let Value::Map(params) = params else {
        return Err(NodeError::new("the parent sent params that are not a map"));
    };
    let spec = NodeSpec {
        id: config.node.id.clone(),
        node_type: config.node.node_type.clone(),
        module: config.node.module.clone(),
        params,
        capabilities: config.node.capabilities.clone(),
    };
    guarded(|| built.engine.create(&spec))
}

fn serve(
    mut node: Box<dyn NodeInstance>,
    input: &mut In,
    out: &mut Out,
    calls: &Calls,
) -> Result<(), WorkerError> {
    let mut number = 0;
    loop {
        let message = match input.recv_from_parent() {
            Ok(message) => message,
            Err(WireError::Closed) => return Ok(()),
            Err(err) => return Err(err.into()),
        };
        let result = match message {
            ToWorker::Initialize => guarded(|| node.initialize()),
            ToWorker::Process(item) => {
                let mut emitter = WorkerEmitter {
                    input,
                    out,
                    failed: None,
                };
                number += 1;
                let result = calls.run(number, || guarded(|| node.process(item, &mut emitter)));
                if let Some(error) = emitter.failed {
                    return Err(error);
                }
                result
            }
            ToWorker::Flush => {
                let mut emitter = WorkerEmitter {
                    input,
                    out,
                    failed: None,
                };
                number += 1;
                let result = calls.run(number, || guarded(|| node.flush(&mut emitter)));
                if let Some(error) = emitter.failed {
                    return Err(error);
                }
                result
            }
            ToWorker::Cleanup => guarded(|| node.cleanup()),
            other => return Err(WorkerError::OutOfTurn(format!("{other:?}"))),
        };
        out.send_to_parent(&FromWorker::Done(result))?;
    }
}

/// Sends each output to the parent and waits for its answer (which is the backpressure).
struct WorkerEmitter<'a> {
    input: &'a mut In,
    out: &'a mut Out,
    /// The channel broke: the node is told the run is stopping, the worker then exits.
    failed: Option<WorkerError>,
}

impl Emitter for WorkerEmitter<'_> {
    fn emit(&mut self, item: Value) -> Result<(), Stopped> {
        if self.failed.is_some() {
            return Err(Stopped);
        }
        if let Err(err) = self.out.send_to_parent(&FromWorker::Emit(item)) {
            self.failed = Some(err.into());
            return Err(Stopped);
        }
        match self.input.recv_from_parent() {
            Ok(ToWorker::Emitted { stopped: false }) => Ok(()),
            Ok(ToWorker::Emitted { stopped: true }) => Err(Stopped),
            Ok(other) => {
                self.failed = Some(WorkerError::OutOfTurn(format!("{other:?}")));
                Err(Stopped)
            }
            Err(err) => {
                self.failed = Some(err.into());
                Err(Stopped)
            }
        }
    }
}

/// Runs node code, turning a panic in an engine into the node's error.
fn guarded<T>(step: impl FnOnce() -> Result<T, NodeError>) -> Result<T, NodeError> {
    catch_unwind(AssertUnwindSafe(step)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
        Err(NodeError::new(format!("the engine panicked: {message}")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Default)]
    struct Counting(AtomicUsize);

    impl Interrupt for Counting {
        fn interrupt(&self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn only_the_call_asked_for_is_interrupted() {
        let calls = Calls::default();
        let interrupter = Counting::default();
        // Asked before call 1 started: nothing yet, still to come.
        assert!(calls.interrupt(1, &interrupter));
        assert_eq!(interrupter.0.load(Ordering::SeqCst), 0);
        calls.run(1, || {
            // In progress: interrupted, and pursued until it returns.
            assert!(calls.interrupt(1, &interrupter));
            // A request for another call does not reach this one.
            assert!(calls.interrupt(2, &interrupter));
        });
        assert_eq!(interrupter.0.load(Ordering::SeqCst), 1);
        // After it returned: nothing, and given up.
        assert!(!calls.interrupt(1, &interrupter));
        calls.run(2, || {
            // A late request for call 1 never reaches call 2.
            assert!(!calls.interrupt(1, &interrupter));
        });
        assert_eq!(interrupter.0.load(Ordering::SeqCst), 1);
    }
}
