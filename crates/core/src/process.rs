//! Running a helper program with a time limit: the machine probes (`nvidia-smi`, `rocm-smi` …)
//! and the CPython engine's question to an interpreter about its installation.
//!
//! A probe that hangs must not hang the run, and one that writes a lot must not block on a full
//! pipe while we wait for it, so both output streams are read on threads of their own.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Why a helper program gave no answer, for people: `no answer within 3 s`, `it exited with
/// exit status: 1: <stderr>`, or why it could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NoAnswer(pub String);

/// Runs `command` with no input and returns its standard output, when it exits successfully
/// within `timeout`; a program still running then is killed.
pub fn output_within(command: &mut Command, timeout: Duration) -> Result<String, NoAnswer> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| NoAnswer(err.to_string()))?;
    let stdout = read_on_a_thread(child.stdout.take().expect("stdout is piped"));
    let stderr = read_on_a_thread(child.stderr.take().expect("stderr is piped"));
    let deadline = Instant::now() + timeout;
    let no_answer = || NoAnswer(format!("no answer within {}", describe(timeout)));
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(no_answer());
            }
        }
    };
    // A grandchild could keep the pipes open after the program exited: bound the reads too.
    let remaining = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(100));
    let stdout = stdout.recv_timeout(remaining).map_err(|_| no_answer())?;
    if !status.success() {
        let stderr = stderr.recv_timeout(remaining).unwrap_or_default();
        return Err(NoAnswer(format!(
            "it exited with {status}: {}",
            stderr.trim()
        )));
    }
    Ok(stdout)
}

fn read_on_a_thread(mut pipe: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        let _ = sender.send(String::from_utf8_lossy(&bytes).into_owned());
    });
    receiver
}

fn describe(timeout: Duration) -> String {
    if timeout.subsec_millis() == 0 {
        format!("{} s", timeout.as_secs())
    } else {
        format!("{} ms", timeout.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_of_a_program_that_answers() {
        let out = output_within(
            Command::new("sh").args(["-c", "echo hello"]),
            Duration::from_secs(5),
        );
        assert_eq!(out, Ok("hello\n".to_owned()));
    }

    #[test]
    fn a_failing_program_says_how_with_its_stderr() {
        let err = output_within(
            Command::new("sh").args(["-c", "echo broken >&2; exit 3"]),
            Duration::from_secs(5),
        )
        .unwrap_err();
        assert_eq!(err.0, "it exited with exit status: 3: broken");
    }

    #[test]
    fn a_hung_program_is_killed_at_the_deadline() {
        let started = Instant::now();
        let err =
            output_within(Command::new("sleep").arg("30"), Duration::from_millis(200)).unwrap_err();
        assert_eq!(err.0, "no answer within 200 ms");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn a_program_that_cannot_start_says_why() {
        let err = output_within(
            &mut Command::new("/nonexistent/probe"),
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert!(err.0.contains("No such file"), "{err}");
    }
}
