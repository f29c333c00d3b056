//! Blocking threads that interpret messages under a time limit, and the count of the ones
//! abandoned there. The limit is counted from the moment a worker starts running, never
//! while it waits for a thread (a pool busy with stuck workers must not make good mail
//! "too slow"). An abandoned thread keeps its place in the pool until its parser returns,
//! and systemd's `TasksMax` bounds the threads: past [`MAX_ABANDONED`] stuck at once this
//! module stops taking work and says so, so that the daemon exits and is restarted with
//! fresh threads. It never decides what becomes of a message. The poison marks of the
//! messages that cost a worker are in [`poison`].

mod poison;

pub use poison::PoisonMarks;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::{JoinError, JoinHandle};
use tokio_util::sync::CancellationToken;
use tracing::error;

/// Abandoned workers still stuck at which intake stops: far below `TasksMax=256` of the
/// systemd unit and tokio's 512 blocking threads, far above what one bad mail costs.
pub const MAX_ABANDONED: usize = 16;

/// A worker's state, shared by its thread and the task waiting for it.
const QUEUED: u8 = 0;
const RUNNING: u8 = 1;
const FINISHED: u8 = 2;
const ABANDONED: u8 = 3;

/// The workers of a process (one per `App`, and `serve` has one App): how many were
/// abandoned at their time limit and are still stuck, and whether intake stopped for it.
#[derive(Debug)]
pub struct Workers {
    abandoned: Arc<AtomicUsize>,
    max_abandoned: usize,
    stopped: CancellationToken,
}

impl Default for Workers {
    fn default() -> Workers {
        Workers::new(MAX_ABANDONED)
    }
}

impl Workers {
    /// Workers that stop taking work once `max_abandoned` are stuck at once.
    pub fn new(max_abandoned: usize) -> Workers {
        Workers { abandoned: Arc::default(), max_abandoned, stopped: CancellationToken::new() }
    }

    /// Abandoned workers whose thread is still running.
    pub fn abandoned(&self) -> usize {
        self.abandoned.load(Ordering::SeqCst)
    }

    /// Whether intake stopped because too many workers are stuck.
    pub fn is_stopped(&self) -> bool {
        self.stopped.is_cancelled()
    }

    /// Resolves once intake stopped because too many workers are stuck (`serve` then
    /// ends with a failure, so that systemd restarts it with fresh threads).
    pub fn stopped(&self) -> impl Future<Output = ()> + Send + 'static {
        self.stopped.clone().cancelled_owned()
    }

    /// Runs `work` on a blocking thread; `None` once intake stopped.
    pub(crate) fn spawn<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Option<Worker<T>> {
        if self.is_stopped() {
            return None;
        }
        let state = Arc::new(AtomicU8::new(QUEUED));
        let (started_tx, started) = oneshot::channel();
        let (thread_state, abandoned) = (state.clone(), self.abandoned.clone());
        let handle = tokio::task::spawn_blocking(move || {
            if thread_state.compare_exchange(QUEUED, RUNNING, Ordering::SeqCst, Ordering::SeqCst).is_err() {
                return None; // withdrawn while it waited for a thread
            }
            let _ = started_tx.send(());
            let result = work();
            if thread_state.swap(FINISHED, Ordering::SeqCst) == ABANDONED {
                abandoned.fetch_sub(1, Ordering::SeqCst);
            }
            Some(result)
        });
        Some(Worker { state, started, handle })
    }

    /// Counts `worker` as abandoned (unless it just finished); stops intake at the limit.
    fn abandon(&self, state: &AtomicU8) {
        // Counted first, so that the thread's own decrement can never come before it.
        let now = self.abandoned.fetch_add(1, Ordering::SeqCst) + 1;
        if state.compare_exchange(RUNNING, ABANDONED, Ordering::SeqCst, Ordering::SeqCst).is_err() {
            self.abandoned.fetch_sub(1, Ordering::SeqCst);
            return;
        }
        if now >= self.max_abandoned && !self.stopped.is_cancelled() {
            error!(
                stuck = now,
                limit = self.max_abandoned,
                "intake stops: this many workers were abandoned at limits.max_processing_secs and are still stuck, \
                 each holding a thread; the daemon exits with a failure so that it is restarted with fresh threads \
                 (mail not yet read stays where it is)"
            );
            self.stopped.cancel();
        }
    }
}

/// A message's interpretation on a blocking thread (see [`Workers::spawn`]).
pub(crate) struct Worker<T> {
    state: Arc<AtomicU8>,
    started: oneshot::Receiver<()>,
    handle: JoinHandle<Option<T>>,
}

/// How a [`Worker`] ended.
pub(crate) enum Finished<T> {
    /// It returned (or panicked).
    Done(Result<T, JoinError>),
    /// It ran past the limit and was abandoned (counted in [`Workers::abandoned`]).
    TimedOut,
    /// Intake stopped before it got a thread; it will not run.
    Withdrawn,
}

impl<T: Send + 'static> Worker<T> {
    /// Waits for the result for at most `limit` of running time (time spent waiting for a
    /// thread does not count); `running_long` is called once it has run for `long`.
    pub(crate) async fn finish(
        mut self,
        workers: &Workers,
        limit: Duration,
        long: Duration,
        mut running_long: impl FnMut(),
    ) -> Finished<T> {
        // Queued: wait for a thread, or give the place up when intake stops.
        let started = tokio::select! {
            started = &mut self.started => started.is_ok(),
            _ = workers.stopped.cancelled() => false,
        };
        if !started && self.state.compare_exchange(QUEUED, ABANDONED, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
            return Finished::Withdrawn;
        }
        let deadline = tokio::time::sleep(limit);
        let long = tokio::time::sleep(long);
        tokio::pin!(deadline, long);
        let mut told = false;
        loop {
            tokio::select! {
                done = &mut self.handle => {
                    return match done {
                        Ok(Some(result)) => Finished::Done(Ok(result)),
                        Ok(None) => Finished::Withdrawn,
                        Err(e) => Finished::Done(Err(e)),
                    };
                }
                _ = &mut long, if !told => {
                    told = true;
                    running_long();
                }
                _ = &mut deadline => {
                    // The thread is left to itself (dropping the handle detaches it).
                    workers.abandon(&self.state);
                    return Finished::TimedOut;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime(blocking_threads: usize) -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(blocking_threads)
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn time_spent_waiting_for_a_thread_does_not_count_against_the_limit() {
        let rt = runtime(1);
        rt.block_on(async {
            let workers = Workers::default();
            // The only blocking thread is busy for 1.5 s (as with stuck workers filling the pool).
            let busy = workers.spawn(|| std::thread::sleep(Duration::from_millis(1500))).unwrap();
            let quick = workers.spawn(|| 42).unwrap();
            let limit = Duration::from_millis(500);
            let mut long = 0;
            let got = quick.finish(&workers, limit, Duration::from_millis(200), || long += 1).await;
            assert!(matches!(got, Finished::Done(Ok(42))), "a quick job queued behind a busy thread timed out");
            assert_eq!(long, 0, "queued time is not running time");
            assert!(matches!(busy.finish(&workers, limit, limit, || {}).await, Finished::Done(Ok(()))));
            assert_eq!(workers.abandoned(), 0);
        });
        rt.shutdown_timeout(Duration::from_millis(100));
    }

    #[test]
    fn abandoned_workers_are_counted_while_stuck_and_stop_intake_at_the_threshold() {
        let rt = runtime(8);
        rt.block_on(async {
            let workers = Workers::new(2);
            let stuck = || std::thread::sleep(Duration::from_millis(800));
            let limit = Duration::from_millis(100);
            let first = workers.spawn(stuck).unwrap().finish(&workers, limit, limit, || {}).await;
            assert!(matches!(first, Finished::TimedOut));
            assert_eq!(workers.abandoned(), 1);
            assert!(!workers.is_stopped(), "one stuck worker is not a reason to stop");
            let mut long = false;
            let second =
                workers.spawn(stuck).unwrap().finish(&workers, limit, Duration::from_millis(50), || long = true);
            assert!(matches!(second.await, Finished::TimedOut));
            assert!(long, "told it ran long before it was abandoned");
            assert_eq!(workers.abandoned(), 2);
            assert!(workers.is_stopped());
            tokio::time::timeout(Duration::from_millis(10), workers.stopped()).await.expect("stopped resolves");
            assert!(workers.spawn(|| 1).is_none(), "no new work once stopped");
            // Stuck threads that return after all are no longer counted.
            tokio::time::sleep(Duration::from_millis(1200)).await;
            assert_eq!(workers.abandoned(), 0);
        });
    }

    #[test]
    fn a_worker_still_waiting_for_a_thread_when_intake_stops_is_withdrawn_unrun() {
        let rt = runtime(1);
        rt.block_on(async {
            let workers = Arc::new(Workers::new(1));
            let ran = Arc::new(AtomicUsize::new(0));
            let stuck = workers.spawn(|| std::thread::sleep(Duration::from_millis(600))).unwrap();
            let counter = ran.clone();
            let queued = workers
                .spawn(move || {
                    counter.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap();
            let w = workers.clone();
            let waiting = tokio::spawn(async move {
                matches!(
                    queued.finish(&w, Duration::from_secs(5), Duration::from_secs(5), || {}).await,
                    Finished::Withdrawn
                )
            });
            let limit = Duration::from_millis(100);
            assert!(matches!(stuck.finish(&workers, limit, limit, || {}).await, Finished::TimedOut));
            assert!(workers.is_stopped());
            assert!(waiting.await.unwrap(), "the queued worker is withdrawn");
            tokio::time::sleep(Duration::from_millis(900)).await;
            assert_eq!(ran.load(Ordering::SeqCst), 0, "a withdrawn worker never runs");
        });
    }
}
