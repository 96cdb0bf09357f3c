//! Where `print` and `logging` inside nodes go: the runtime's stderr, one line at a time, each
//! labelled with the node that wrote it (`[calc_1] ...`).
//!
//! The binary's stdout carries the run's JSON Lines results, so Python's `sys.stdout` and
//! `sys.stderr` are both replaced (by `_remotemedia_embedded`) with streams that call [`write`].
//! Every node runs on its own stage thread, so the label and the unfinished line are thread-local:
//! no lock is taken until a whole line is written.

use std::cell::RefCell;
use std::io::Write as _;
use std::sync::Arc;

/// The label of lines written by Python threads that are not running a node (threads a node
/// started itself, or interpreter start-up).
const UNLABELLED: &str = "python";

thread_local! {
    /// The id of the node this thread is running.
    static NODE_LABEL: RefCell<Option<Arc<str>>> = const { RefCell::new(None) };
    /// Text written since the last newline.
    static PARTIAL_LINE: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Makes `label` the label of this thread's output. Cheap when it already is (checked per call).
pub(super) fn set_label(label: &Arc<str>) {
    NODE_LABEL.with(|current| {
        let mut current = current.borrow_mut();
        if !current
            .as_ref()
            .is_some_and(|existing| Arc::ptr_eq(existing, label))
        {
            *current = Some(Arc::clone(label));
        }
    });
}

/// Appends Python text to this thread's output; every completed line goes to stderr, labelled.
pub(super) fn write(text: &str) {
    PARTIAL_LINE.with(|partial| {
        let mut partial = partial.borrow_mut();
        partial.push_str(text);
        if let Some(last_newline) = partial.rfind('\n') {
            write_lines(&partial[..last_newline]);
            partial.drain(..=last_newline);
        }
    });
}

/// Writes out the unfinished line, if any (on `flush()` and when a node is cleaned up).
pub(super) fn flush() {
    PARTIAL_LINE.with(|partial| {
        let mut partial = partial.borrow_mut();
        if !partial.is_empty() {
            write_lines(&partial);
            partial.clear();
        }
    });
}

fn write_lines(text: &str) {
    NODE_LABEL.with(|label| {
        let label = label.borrow();
        let label = label.as_deref().unwrap_or(UNLABELLED);
        // One locked write per batch, so lines of parallel nodes never interleave mid-line. A
        // failing stderr has nowhere to be reported, so it is ignored.
        let mut stderr = std::io::stderr().lock();
        for line in text.split('\n') {
            let _ = writeln!(stderr, "[{label}] {line}");
        }
    });
}
