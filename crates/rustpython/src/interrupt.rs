//! Interrupting a node busy in `process` or `flush` from another thread: the core's [`Interrupt`]
//! for nodes that run on their own interpreter's main VM.
//!
//! RustPython delivers asynchronous work to an interpreter's *main* VM only: at each bytecode
//! safepoint, a main VM that finds the process-wide eval-breaker flag set clears it and runs the
//! closures queued on its user-signal channel (`rustpython_vm::signal`, set up at build time with
//! `set_user_signal_channel`); a closure that returns an exception raises it right there, as
//! CPython raises one set with `PyThreadState_SetAsyncExc`. Thread VMs (`Interpreter::new_thread`,
//! how nodes enter a shared interpreter) have no channel and never look at the flag — a node on
//! one cannot be interrupted.
//!
//! The flag is one for the whole process and is cleared by whichever main VM sees it first: the
//! interpreter of another node may take it and find its own channel empty. So once asked, the
//! interrupter sends again every [`RESEND`] until the call has taken the exception or returned.

use std::sync::Arc;
use std::time::Duration;

use rustpython_vm::signal::UserSignalSender;

use remotemedia_core::engine::{CallGate, Interrupt};

/// How often an interruption not yet taken is sent again.
const RESEND: Duration = Duration::from_millis(5);

/// Raises `KeyboardInterrupt` in the node's code, only while the node is inside `process` or
/// `flush`, so that `cleanup` is never hit.
pub(crate) struct CallInterrupter {
    node: Arc<str>,
    /// The user-signal channel of the node's own interpreter.
    signals: UserSignalSender,
    /// The node's `process` and `flush` calls, which run on its interpreter's main VM.
    pub(crate) calls: Arc<CallGate>,
}

impl CallInterrupter {
    pub(crate) fn new(node: Arc<str>, signals: UserSignalSender) -> Self {
        CallInterrupter {
            node,
            signals,
            calls: Arc::default(),
        }
    }
}

impl Interrupt for CallInterrupter {
    fn interrupt(&self) {
        let Some(call) = self.calls.ask() else {
            return;
        };
        if send(&self.signals, &self.calls, call).is_err() {
            return;
        }
        let signals = self.signals.clone();
        let calls = Arc::clone(&self.calls);
        let resending = std::thread::Builder::new()
            .name(format!("interrupting {}", self.node))
            .spawn(move || {
                std::thread::sleep(RESEND);
                while calls.due(call) && send(&signals, &calls, call).is_ok() {
                    std::thread::sleep(RESEND);
                }
            });
        if let Err(error) = resending {
            tracing::warn!(node = %self.node, "the interruption may be missed: {error}");
        }
    }
}

/// Queues, for the node's main VM, a closure raising `KeyboardInterrupt` if call `call` is still
/// in progress and has not raised it yet (a closure the call did not take stays harmless); `Err`
/// once the interpreter is gone.
fn send(signals: &UserSignalSender, calls: &Arc<CallGate>, call: u64) -> Result<(), ()> {
    let calls = Arc::clone(calls);
    signals
        .send(Box::new(move |vm| {
            let interrupt =
                || vm.new_exception_empty(vm.ctx.exceptions.keyboard_interrupt.to_owned());
            calls.land(call, interrupt).map_or(Ok(()), Err)
        }))
        .map_err(drop)
}
