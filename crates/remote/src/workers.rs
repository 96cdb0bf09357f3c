//! The threads node streams run on, kept and reused.
//!
//! A node instance lives on one thread, so every open stream needs a thread of its own. Threads
//! are reused rather than spawned per stream: an interpreter keeps some state per thread that has
//! entered it (RustPython registers each thread's frame slot until the thread leaves through
//! Python's own threading), so a long-lived server that spawned a thread per stream would grow by
//! that much per stream. Idle threads wait for the next stream; there are never more threads than
//! streams open at the busiest moment (bounded by `--max-nodes`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam_channel::{Receiver, Sender};

type Job = Box<dyn FnOnce() + Send>;

/// Runs each job at once on an idle thread, or on a new one when none is idle.
pub(crate) struct Workers {
    jobs: Sender<Job>,
    waiting: Receiver<Job>,
    /// Threads waiting for a job and not yet promised one.
    idle: Arc<AtomicUsize>,
    name: String,
}

impl Workers {
    pub(crate) fn new(name: &str) -> Workers {
        let (jobs, waiting) = crossbeam_channel::unbounded();
        Workers {
            jobs,
            waiting,
            idle: Arc::new(AtomicUsize::new(0)),
            name: name.to_owned(),
        }
    }

    /// Starts `job` now: never queued behind another job.
    pub(crate) fn run(&self, job: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
        // Promise the job to one idle thread; each idle thread takes at most one job before it
        // counts itself idle again, so a promised job is taken at once.
        if self
            .idle
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            self.jobs
                .send(Box::new(job))
                .expect("the receiving end lives in self");
            return Ok(());
        }
        let waiting = self.waiting.clone();
        let idle = Arc::clone(&self.idle);
        std::thread::Builder::new()
            .name(self.name.clone())
            .spawn(move || {
                job();
                loop {
                    idle.fetch_add(1, Ordering::SeqCst);
                    match waiting.recv() {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            })
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::Duration;

    #[test]
    fn threads_are_reused_and_jobs_never_wait_behind_busy_ones() {
        let workers = Workers::new("test");
        let threads = Arc::new(Mutex::new(std::collections::HashSet::new()));
        // One long job holds its thread; short jobs must still run at once, on other threads.
        let (release, blocked) = crossbeam_channel::bounded::<()>(0);
        workers
            .run(move || {
                let _ = blocked.recv();
            })
            .unwrap();
        for _ in 0..50 {
            let (done, finished) = crossbeam_channel::bounded(1);
            let seen = Arc::clone(&threads);
            workers
                .run(move || {
                    seen.lock().unwrap().insert(std::thread::current().id());
                    done.send(()).unwrap();
                })
                .unwrap();
            finished
                .recv_timeout(Duration::from_secs(10))
                .expect("the job ran although another thread is busy");
            // Let the worker count itself idle again before the next job.
            while workers.idle.load(Ordering::SeqCst) == 0 {
                std::thread::yield_now();
            }
        }
        release.send(()).unwrap();
        assert_eq!(
            threads.lock().unwrap().len(),
            1,
            "one thread served every short job"
        );
    }
}
