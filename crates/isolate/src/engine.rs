//! The parent's side: [`IsolatedEngine`] creates each node in a worker process of its own, and
//! [`IsolatedNode`] forwards the node's lifecycle calls to it.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use remotemedia_core::engine::{
    CallGate, Emitter, Engine, Interrupt, NodeError, NodeInstance, NodeSpec,
};
use remotemedia_core::manifest::Isolation;
use remotemedia_core::value::Value;

use crate::lend::{ArrayPool, Loans};
use crate::shm::{ArenaReader, ArenaWriter};
use crate::spawn::{self, WorkerProcess};
use crate::wire::{FromWorker, Receiver, Sender, ToWorker, WireError};
use crate::{Limits, NodeSetup, WorkerConfig, sandbox};

/// How long a worker may take to exit after its channel is closed before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(5);
/// How long a worker whose channel broke may take to be seen dead.
const CRASH_GRACE: Duration = Duration::from_secs(2);
/// How long a worker asked to interrupt its node's call may take to answer it (the call
/// returning) before its channel is closed and it is ended.
const ANSWER_BOUND: Duration = Duration::from_secs(1);

/// Runs every node it creates in a worker process of its own — the same executable, started for
/// that one node, building the engine `engine` names for it — optionally sandboxed.
#[derive(Debug, Clone)]
pub struct IsolatedEngine {
    engine: String,
    label: String,
    python_path: Vec<PathBuf>,
    isolation: Isolation,
    limits: Limits,
}

impl IsolatedEngine {
    /// Nodes of the local engine named `engine` (`rustpython`, `cpython`), each in a process of
    /// its own; `python_path` is the run's. `isolation` must be `process` or `sandbox`.
    pub fn new(
        engine: &str,
        python_path: Vec<PathBuf>,
        isolation: Isolation,
        limits: Limits,
    ) -> Self {
        let how = match isolation {
            Isolation::Sandbox => "sandboxed",
            _ => "isolated",
        };
        IsolatedEngine {
            engine: engine.to_owned(),
            label: format!("{engine}, {how}"),
            python_path,
            isolation,
            limits: limits.or_defaults(isolation),
        }
    }
}

impl Engine for IsolatedEngine {
    fn name(&self) -> &str {
        &self.label
    }

    fn create(&self, spec: &NodeSpec) -> Result<Box<dyn NodeInstance>, NodeError> {
        let sandboxed = self.isolation == Isolation::Sandbox;
        if sandboxed {
            sandbox::check_available().map_err(|err| NodeError::new(err.to_string()))?;
        }
        let command = spawn::worker_command().map_err(|err| {
            NodeError::new(format!(
                "cannot find this executable to start its worker: {err}"
            ))
        })?;
        let env = sandboxed.then(sandbox::worker_env);
        // Arrays are lent in place only to a worker that may read every array of the process
        // and whose mapping of the pool counts against no memory limit (see `lend`).
        let pool = (!sandboxed && self.limits.memory_mb.is_none())
            .then(ArrayPool::get)
            .flatten()
            .and_then(|pool| pool.read_only_file().ok());
        let spawned = spawn::spawn(&command, env, pool.as_ref(), &spec.id).map_err(|err| {
            NodeError::new(format!(
                "cannot start a worker process ({}): {err}",
                command.program.display()
            ))
        })?;
        let reader = spawned
            .channel
            .try_clone()
            .map_err(|err| NodeError::new(format!("cannot use the worker's channel: {err}")))?;
        let interrupter = spawned
            .channel
            .try_clone()
            .map(|channel| Arc::new(WorkerInterrupter::new(channel, spawned.control, &spec.id)))
            .map_err(|err| NodeError::new(format!("cannot use the worker's channel: {err}")))?;
        let mut sender = Sender::new(
            BufWriter::new(spawned.channel),
            ArenaWriter::new(spawned.arena_to_worker),
        );
        let mut receiver = Receiver::new(
            BufReader::new(reader),
            ArenaReader::new(spawned.arena_from_worker),
        );
        if pool.is_some() {
            let loans = Arc::new(Loans::default());
            sender = sender.lending(Arc::clone(&loans));
            receiver = receiver.settling(loans);
        }
        let mut node = IsolatedNode {
            pid: spawned.process.id(),
            sender,
            receiver,
            process: spawned.process,
            limits: self.limits,
            failed: None,
            interrupter,
        };
        let config = WorkerConfig {
            engine: self.engine.clone(),
            python_path: self.python_path.clone(),
            sandbox: sandboxed,
            limits: self.limits,
            node: NodeSetup {
                id: spec.id.clone(),
                node_type: spec.node_type.clone(),
                module: spec.module.clone(),
                capabilities: spec.capabilities.clone(),
            },
        };
        let config = serde_json::to_string(&config).expect("the worker's configuration is JSON");
        let start = ToWorker::Start {
            config,
            params: Value::Map(spec.params.clone()),
        };
        node.send(&start)?;
        match node.receive()? {
            FromWorker::Ready(Ok(())) => {
                tracing::debug!(node = spec.id, pid = node.pid, "worker ready");
                Ok(Box::new(node))
            }
            FromWorker::Ready(Err(error)) => {
                node.close();
                Err(error)
            }
            other => Err(node.protocol_error(&other)),
        }
    }
}

/// A node living in a worker process.
#[derive(Debug)]
pub struct IsolatedNode {
    pid: u32,
    sender: Sender<BufWriter<UnixStream>>,
    receiver: Receiver<BufReader<UnixStream>>,
    process: WorkerProcess,
    limits: Limits,
    /// Set once the worker is gone: every later call gets the same error.
    failed: Option<NodeError>,
    /// Interrupts the worker's call when the run stops while it is in `process` or `flush`.
    interrupter: Arc<WorkerInterrupter>,
}

/// Interrupts an isolated node busy in a call: asks the worker, over its control pipe, to
/// interrupt the call through the node's own engine (`KeyboardInterrupt` in the node's code, as
/// in-process), so the call returns and the node's `cleanup` runs in the worker as usual. A worker
/// that has not answered within [`ANSWER_BOUND`] — a node in a long native call, one that catches
/// the interruption and carries on, a hostile one — has its channel closed: the stage thread
/// waiting for its answer sees it gone and ends it at once; its `cleanup` then does not run (the
/// operating system releases what it held).
#[derive(Debug)]
struct WorkerInterrupter {
    shared: Arc<Interruption>,
}

#[derive(Debug)]
struct Interruption {
    node: String,
    channel: UnixStream,
    /// The control pipe's write end (non-blocking).
    control: File,
    /// The calls (`process`, `flush`), numbered as the worker numbers them.
    calls: CallGate,
    /// The channel was closed by an interrupt.
    fired: AtomicBool,
}

impl Interruption {
    /// Closes the channel if call `call` is still in progress.
    fn close_if_in(&self, call: u64) {
        self.calls.land(call, || {
            // Before the channel closes: the stage thread it wakes ends the worker with no grace.
            self.fired.store(true, Ordering::SeqCst);
            let _ = self.channel.shutdown(std::net::Shutdown::Both);
        });
    }
}

impl WorkerInterrupter {
    fn new(channel: UnixStream, control: File, node: &str) -> Self {
        WorkerInterrupter {
            shared: Arc::new(Interruption {
                node: node.to_owned(),
                channel,
                control,
                calls: CallGate::default(),
                fired: AtomicBool::new(false),
            }),
        }
    }

    fn fired(&self) -> bool {
        self.shared.fired.load(Ordering::SeqCst)
    }
}

impl Interrupt for WorkerInterrupter {
    fn interrupt(&self) {
        // A worker already ended is not asked again.
        let Some(call) = self.shared.calls.ask().filter(|_| !self.fired()) else {
            return;
        };
        // Eight bytes into a non-blocking pipe: never waits for the worker.
        if (&self.shared.control)
            .write_all(&call.to_le_bytes())
            .is_err()
        {
            self.shared.close_if_in(call);
            return;
        }
        let shared = Arc::clone(&self.shared);
        let bound = std::thread::Builder::new()
            .name(format!("interrupting {}", self.shared.node))
            .spawn(move || {
                let deadline = std::time::Instant::now() + ANSWER_BOUND;
                while std::time::Instant::now() < deadline {
                    if !shared.calls.due(call) {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                tracing::debug!(
                    node = shared.node,
                    "the worker did not answer the interruption: ending it"
                );
                shared.close_if_in(call);
            });
        if bound.is_err() {
            // No thread to bound the wait: end the worker now, as before.
            self.shared.close_if_in(call);
        }
    }

    fn cleanup_skipped(&self) -> Option<String> {
        self.fired().then(|| {
            format!(
                "its call did not end within {} s of the interruption, so its worker process was ended",
                ANSWER_BOUND.as_secs_f64()
            )
        })
    }
}

impl IsolatedNode {
    fn send(&mut self, message: &ToWorker) -> Result<(), NodeError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        match self.sender.send_to_worker(message) {
            Ok(()) => Ok(()),
            // A value the channel cannot carry is the node's input problem, not a crash.
            Err(err) if err.kind() == std::io::ErrorKind::InvalidInput => Err(NodeError::new(
                format!("cannot pass the value to the worker: {err}"),
            )),
            Err(_) => Err(self.worker_gone()),
        }
    }

    fn receive(&mut self) -> Result<FromWorker, NodeError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        match self.receiver.recv_from_worker() {
            Ok(message) => Ok(message),
            Err(WireError::Closed | WireError::Io(_)) => Err(self.worker_gone()),
            Err(err) => {
                let error = NodeError::new(format!(
                    "its worker process (pid {}) sent a message that cannot be read ({err}); it was stopped",
                    self.pid
                ));
                self.process.end(Duration::ZERO);
                self.failed = Some(error.clone());
                Err(error)
            }
        }
    }

    /// Runs one lifecycle step in the worker, passing its outputs to `out`.
    fn step(
        &mut self,
        message: &ToWorker,
        mut out: Option<&mut dyn Emitter>,
    ) -> Result<(), NodeError> {
        self.send(message)?;
        loop {
            match self.receive()? {
                FromWorker::Emit(value) => {
                    let Some(out) = out.as_deref_mut() else {
                        return Err(self.protocol_error(&FromWorker::Emit(value)));
                    };
                    let stopped = out.emit(value).is_err();
                    self.send(&ToWorker::Emitted { stopped })?;
                }
                FromWorker::Done(result) => return result,
                other => return Err(self.protocol_error(&other)),
            }
        }
    }

    /// The error for a worker whose channel broke: how it ended, and the last of its stderr.
    fn worker_gone(&mut self) -> NodeError {
        // A worker that did not answer an interruption is still busy: it is ended now, not given
        // time to exit.
        let grace = if self.interrupter.fired() {
            Duration::ZERO
        } else {
            CRASH_GRACE
        };
        let status = self.process.end(grace);
        let mut message = format!(
            "its isolated worker process (pid {}) {}",
            self.pid,
            spawn::describe(status)
        );
        if let Some(limit) = self.limits.cpu_seconds.filter(|_| {
            use std::os::unix::process::ExitStatusExt;
            status.signal() == Some(libc::SIGXCPU)
        }) {
            message.push_str(&format!(" (limit: {limit} s)"));
        }
        let tail = self.process.stderr_tail();
        let mut error = NodeError::new(message);
        if !tail.is_empty() {
            error = error.with_traceback(format!(
                "last lines of the worker's stderr:\n{}",
                tail.iter()
                    .map(|line| format!("  {line}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
        }
        self.failed = Some(error.clone());
        error
    }

    fn protocol_error(&mut self, message: &FromWorker) -> NodeError {
        let error = NodeError::new(format!(
            "its worker process (pid {}) answered out of turn ({message:?}); it was stopped",
            self.pid
        ));
        self.process.end(Duration::ZERO);
        self.failed = Some(error.clone());
        error
    }

    /// Closes the channel, so the worker exits, and waits for it.
    fn close(&mut self) {
        let _ = self.sender_stream().shutdown(std::net::Shutdown::Both);
        self.process.end(EXIT_GRACE);
    }

    /// Runs a call the run's stop may interrupt. A worker that did not answer the interruption in
    /// time had its channel closed, maybe as the call ended: it is then ended here, so `cleanup`
    /// has nothing left to do.
    fn interruptible(
        &mut self,
        call: impl FnOnce(&mut Self) -> Result<(), NodeError>,
    ) -> Result<(), NodeError> {
        let interrupter = Arc::clone(&self.interrupter);
        let result = interrupter.shared.calls.run(|| call(self));
        if self.interrupter.fired() && self.failed.is_none() {
            let _ = self.worker_gone();
        }
        result
    }

    fn sender_stream(&self) -> &UnixStream {
        self.sender.get_ref().get_ref()
    }
}

impl NodeInstance for IsolatedNode {
    fn initialize(&mut self) -> Result<(), NodeError> {
        self.step(&ToWorker::Initialize, None)
    }

    fn process(&mut self, item: Value, out: &mut dyn Emitter) -> Result<(), NodeError> {
        self.interruptible(|node| node.step(&ToWorker::Process(item), Some(out)))
    }

    fn flush(&mut self, out: &mut dyn Emitter) -> Result<(), NodeError> {
        self.interruptible(|node| node.step(&ToWorker::Flush, Some(out)))
    }

    fn interrupter(&self) -> Option<Arc<dyn Interrupt>> {
        Some(Arc::clone(&self.interrupter) as Arc<dyn Interrupt>)
    }

    fn cleanup(&mut self) -> Result<(), NodeError> {
        if self.failed.is_some() {
            // The worker is gone and its end was reported as the node's failure: there is
            // nothing left to clean up, and nothing new to say.
            return Ok(());
        }
        let result = self.step(&ToWorker::Cleanup, None);
        self.close();
        result
    }
}

impl Drop for IsolatedNode {
    fn drop(&mut self) {
        self.close();
    }
}
