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

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rustpython_vm::signal::UserSignalSender;

use remotemedia_core::engine::Interrupt;

/// How often an interruption not yet taken is sent again.
const RESEND: Duration = Duration::from_millis(5);

/// Raises `KeyboardInterrupt` in the node's code, only while the node is inside `process` or
/// `flush` (see [`CallInterrupter::armed`]), so that `cleanup` is never hit.
pub(crate) struct CallInterrupter {
    node: Arc<str>,
    /// The user-signal channel of the node's own interpreter.
    signals: UserSignalSender,
    state: Arc<Mutex<CallState>>,
}

#[derive(Debug, Default)]
struct CallState {
    /// The calls armed so far: an interruption is for the call it was asked in, never a later one.
    call: u64,
    /// The node is in that call.
    armed: bool,
    /// An interruption was asked for during that call.
    asked: bool,
    /// ... and raised in it.
    raised: bool,
}

impl CallState {
    /// The interruption of call `call` is still to be raised.
    fn due(&self, call: u64) -> bool {
        self.armed && self.call == call && !self.raised
    }
}

impl CallInterrupter {
    pub(crate) fn new(node: Arc<str>, signals: UserSignalSender) -> Self {
        CallInterrupter {
            node,
            signals,
            state: Arc::default(),
        }
    }

    /// Runs `call` — the node's `process` or `flush`, on its interpreter's main VM — so that an
    /// interruption raises in it. Queued closures the call did not take stay harmless: they raise
    /// only in the call they were sent for.
    pub(crate) fn armed<T>(&self, call: impl FnOnce() -> T) -> T {
        {
            let mut state = lock(&self.state);
            state.call += 1;
            state.armed = true;
            state.asked = false;
            state.raised = false;
        }
        let result = call();
        lock(&self.state).armed = false;
        result
    }
}

impl Interrupt for CallInterrupter {
    fn interrupt(&self) {
        let call = {
            let mut state = lock(&self.state);
            if !state.armed || state.asked {
                return;
            }
            state.asked = true;
            state.call
        };
        if send(&self.signals, &self.state, call).is_err() {
            return;
        }
        let signals = self.signals.clone();
        let state = Arc::clone(&self.state);
        let resending = std::thread::Builder::new()
            .name(format!("interrupting {}", self.node))
            .spawn(move || {
                std::thread::sleep(RESEND);
                while lock(&state).due(call) && send(&signals, &state, call).is_ok() {
                    std::thread::sleep(RESEND);
                }
            });
        if let Err(error) = resending {
            tracing::warn!(node = %self.node, "the interruption may be missed: {error}");
        }
    }
}

/// Queues, for the node's main VM, a closure raising `KeyboardInterrupt` if call `call` is still
/// in progress and has not raised it yet; `Err` once the interpreter is gone.
fn send(signals: &UserSignalSender, state: &Arc<Mutex<CallState>>, call: u64) -> Result<(), ()> {
    let state = Arc::clone(state);
    signals
        .send(Box::new(move |vm| {
            let mut state = lock(&state);
            if !state.due(call) {
                return Ok(());
            }
            state.raised = true;
            Err(vm.new_exception_empty(vm.ctx.exceptions.keyboard_interrupt.to_owned()))
        }))
        .map_err(drop)
}

fn lock(state: &Mutex<CallState>) -> MutexGuard<'_, CallState> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}
