//! The Ray driver process: `python -c ray_driver.py`, spoken to in JSON Lines.
//!
//! Why a process: the executable never links libpython, and a Ray driver inside an embedded
//! interpreter would share this process's signals, threads and `sys.executable` with Ray. A child
//! CPython that has `ray` installed keeps all of that apart, and its lifetime is the run's: when
//! this process ends, however it ends, the child's stdin closes, it kills its actors and exits,
//! and Ray kills whatever a dead driver still owned.

use std::collections::HashMap;
use std::io::{BufReader, Write as _};
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The driver's Python source, run with `python -c`.
const SCRIPT: &str = include_str!("ray_driver.py");

/// Why the driver could not do something, for people.
pub(crate) type DriverError = String;

/// A running driver, connected to a cluster.
pub(crate) struct Driver {
    child: Mutex<Child>,
    stdin: Mutex<Option<ChildStdin>>,
    inbox: Arc<Inbox>,
}

/// What the driver said, kept until asked for.
#[derive(Default)]
struct Inbox {
    state: Mutex<InboxState>,
    changed: Condvar,
}

#[derive(Default)]
struct InboxState {
    /// Answers by (request, node id).
    answers: HashMap<(String, String), Value>,
    /// Why each lost node was lost, by node id.
    lost: HashMap<String, String>,
    /// The driver's stdout ended: no more answers will come.
    ended: bool,
    /// The last lines of its stderr (Ray's log), for messages.
    log: Vec<String>,
}

const LOG_LINES: usize = 20;

/// Drivers started to connect, at the most, when Ray's client server fails to start a client's
/// server.
const CONNECT_ATTEMPTS: u64 = 3;

impl Driver {
    /// Starts the driver with `python` and connects it to `address`, waiting at most `timeout`.
    ///
    /// Ray's client server now and then fails to start the server it forks for a new client; the
    /// driver says so at once (`retry`), and a new driver usually connects in seconds.
    pub(crate) fn start(
        python: &Path,
        address: &str,
        timeout: Duration,
    ) -> Result<Driver, DriverError> {
        let deadline = Instant::now() + timeout;
        let mut attempt = 1;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let driver = Driver::spawn(python, address, left)?;
            // The driver bounds its own wait; this one only guards against a driver that hangs.
            let connected = driver.answer("connect", "", left + Duration::from_secs(10))?;
            if connected["ok"] == true {
                tracing::info!(target: "remotemedia_cluster", address, via = %text(&connected["via"]), "connected to the Ray cluster");
                return Ok(driver);
            }
            let error = text(&connected["error"]);
            let pause = Duration::from_secs(attempt);
            if connected["retry"] != true
                || attempt == CONNECT_ATTEMPTS
                || Instant::now() + pause >= deadline
            {
                return Err(error);
            }
            tracing::debug!(target: "remotemedia_cluster", attempt, "connecting again: {error}");
            drop(driver);
            std::thread::sleep(pause);
            attempt += 1;
        }
    }

    /// Starts a driver process that connects to `address` within `timeout`.
    fn spawn(python: &Path, address: &str, timeout: Duration) -> Result<Driver, DriverError> {
        let mut child = Command::new(python)
            .arg("-c")
            .arg(SCRIPT)
            .arg(address)
            .arg(timeout.as_secs_f64().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Ray's own warnings go to the log we keep, not to the user's terminal.
            .env("RAY_USAGE_STATS_ENABLED", "0")
            // Its own process group: a Ctrl-C meant for the run reaches this process, which
            // then releases the actors through the driver, instead of killing the driver first.
            .process_group(0)
            .spawn()
            .map_err(|error| format!("cannot start {}: {error}", python.display()))?;
        let inbox = Arc::new(Inbox::default());
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        let reader = Arc::clone(&inbox);
        std::thread::Builder::new()
            .name("ray driver".to_owned())
            .spawn(move || reader.read(BufReader::new(stdout)))
            .map_err(|error| format!("cannot start a thread: {error}"))?;
        let logger = Arc::clone(&inbox);
        std::thread::Builder::new()
            .name("ray driver log".to_owned())
            .spawn(move || logger.log(BufReader::new(stderr)))
            .map_err(|error| format!("cannot start a thread: {error}"))?;
        Ok(Driver {
            stdin: Mutex::new(child.stdin.take()),
            child: Mutex::new(child),
            inbox,
        })
    }

    /// Sends `request` (for node `id`) and waits at most `timeout` for its answer.
    pub(crate) fn call(
        &self,
        op: &str,
        id: &str,
        mut request: Value,
        timeout: Duration,
    ) -> Result<Value, DriverError> {
        request["op"] = json!(op);
        request["id"] = json!(id);
        {
            let mut stdin = self.stdin.lock().unwrap_or_else(PoisonError::into_inner);
            let Some(pipe) = stdin.as_mut() else {
                return Err("the Ray driver was stopped".to_owned());
            };
            writeln!(pipe, "{request}")
                .and_then(|()| pipe.flush())
                .map_err(|error| format!("the Ray driver is gone ({error}){}", self.log_tail()))?;
        }
        let answer = self.answer(op, id, timeout)?;
        if answer["ok"] == true {
            Ok(answer)
        } else {
            Err(text(&answer["error"]))
        }
    }

    fn answer(&self, op: &str, id: &str, timeout: Duration) -> Result<Value, DriverError> {
        let key = (op.to_owned(), id.to_owned());
        self.inbox
            .wait_for(timeout, |state| state.answers.remove(&key))
            .map_err(|unanswered| match unanswered {
                Unanswered::Ended => format!("the Ray driver ended{}", self.log_tail()),
                Unanswered::TimedOut => format!("no answer from the Ray driver within {timeout:?}"),
            })
    }

    /// Why Ray says node `id` was lost, waiting at most `timeout` for the news.
    pub(crate) fn lost(&self, id: &str, timeout: Duration) -> Option<String> {
        self.inbox
            .wait_for(timeout, |state| state.lost.get(id).cloned())
            .ok()
    }

    /// `: <Ray's last log lines>`, or nothing.
    fn log_tail(&self) -> String {
        let state = self
            .inbox
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match state.log.last() {
            Some(_) => format!("; its log ends with: {}", state.log.join(" | ")),
            None => String::new(),
        }
    }
}

impl Drop for Driver {
    /// Closing its stdin tells the driver to kill the run's actors and exit; it gets a few
    /// seconds, then is killed (Ray then kills what it owned).
    fn drop(&mut self) {
        drop(
            self.stdin
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        let mut child = self.child.lock().unwrap_or_else(PoisonError::into_inner);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        tracing::warn!("the Ray driver did not exit within 10 s; killing it");
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Why a wait for the driver found nothing.
enum Unanswered {
    /// Its stdout ended: nothing more will come.
    Ended,
    TimedOut,
}

impl Inbox {
    /// Waits at most `timeout` until `take` finds what it looks for in what the driver said.
    fn wait_for<T>(
        &self,
        timeout: Duration,
        mut take: impl FnMut(&mut InboxState) -> Option<T>,
    ) -> Result<T, Unanswered> {
        let deadline = Instant::now() + timeout;
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(found) = take(&mut state) {
                return Ok(found);
            }
            if state.ended {
                return Err(Unanswered::Ended);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Unanswered::TimedOut);
            }
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    fn read(&self, stdout: impl std::io::BufRead) {
        for line in stdout.lines() {
            let Ok(line) = line else { break };
            let Ok(message) = serde_json::from_str::<Value>(&line) else {
                tracing::debug!(target: "remotemedia_cluster", "ray driver: {line}");
                continue;
            };
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            if message["event"] == "lost" {
                let id = text(&message["id"]);
                tracing::debug!(target: "remotemedia_cluster", node = %id, "lost: {}", text(&message["reason"]));
                state.lost.insert(id, text(&message["reason"]));
            } else {
                let key = (text(&message["re"]), text(&message["id"]));
                state.answers.insert(key, message);
            }
            self.changed.notify_all();
        }
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .ended = true;
        self.changed.notify_all();
    }

    fn log(&self, stderr: impl std::io::BufRead) {
        for line in stderr.lines() {
            let Ok(line) = line else { break };
            tracing::debug!(target: "remotemedia_cluster", "ray: {line}");
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            if state.log.len() == LOG_LINES {
                state.log.remove(0);
            }
            state.log.push(line);
        }
    }
}

/// A JSON string's text; anything else as JSON (`null` for a missing id).
fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}
