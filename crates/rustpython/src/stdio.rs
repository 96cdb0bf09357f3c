//! Where `print` and `logging` inside nodes go: the runtime's stderr. The SDK's
//! `capture_output` (`remotemedia.engine_api`) turns them into whole lines labelled with the node
//! that wrote them (`[calc_1] ...`) and hands them to [`write_stderr`]: the binary's stdout carries
//! the run's JSON Lines results, so a stray `print` must never reach it.

use std::io::Write as _;

/// Writes labelled lines to stderr in one locked write, so lines of parallel nodes never
/// interleave. A failing stderr has nowhere to be reported, so it is ignored.
pub(super) fn write_stderr(lines: &str) {
    let _ = std::io::stderr().lock().write_all(lines.as_bytes());
}
