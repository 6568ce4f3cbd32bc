//! How many writes run at once: a fixed number (`--concurrency`, `[upload] concurrency`), or
//! a limit that adapts to what S3 and the network give (`core::concurrency`), fed with each
//! write's completion and bytes and the throttle answers the store has seen. One limiter
//! spans a deploy's phases, so what the assets taught it holds for the HTML.

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use futures::stream::{FuturesUnordered, StreamExt};

use crate::ports::ObjectStore;
use shipit_core::concurrency::{self, Adaptive};
use shipit_core::error::Result;

pub struct Limiter<'a> {
    /// Set when the limit adapts.
    adaptive: Option<Mutex<Adaptive>>,
    limit: AtomicUsize,
    /// The highest limit reached, for the report.
    peak: AtomicUsize,
    done: AtomicU64,
    bytes: AtomicU64,
    started: Instant,
    store: &'a dyn ObjectStore,
    /// Throttle answers before the writes (listing, HEADs, the lock): not theirs.
    throttles_before: u64,
}

impl<'a> Limiter<'a> {
    /// Starts at `start`; adapts between the core's floor and ceiling when `adaptive`.
    pub fn new(start: usize, adaptive: bool, store: &'a dyn ObjectStore) -> Limiter<'a> {
        let controller = adaptive
            .then(|| Mutex::new(Adaptive::new(start, concurrency::MIN, concurrency::MAX, 0)));
        let limit = controller.as_ref().map_or(start, |c| {
            c.lock().unwrap_or_else(|e| e.into_inner()).limit()
        });
        Limiter {
            adaptive: controller,
            limit: AtomicUsize::new(limit),
            peak: AtomicUsize::new(limit),
            done: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            started: Instant::now(),
            store,
            throttles_before: store.throttled(),
        }
    }

    /// Throttle answers since the writes began.
    fn throttles(&self) -> u64 {
        self.store.throttled().saturating_sub(self.throttles_before)
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// The limit now, and the highest it reached.
    pub fn limits(&self) -> (usize, usize) {
        (
            self.limit.load(Ordering::Relaxed),
            self.peak.load(Ordering::Relaxed),
        )
    }

    /// Runs `jobs` (each resolving to the bytes it wrote), no more at once than the limit,
    /// starting each only when there is room. The first error stops it: nothing more starts,
    /// what is in flight finishes (a write cut off mid-request may still land in the bucket,
    /// and a multipart upload aborts itself only if it is let end), and the first error is
    /// returned.
    pub async fn run<F>(&self, jobs: impl IntoIterator<Item = F>) -> Result<()>
    where
        F: Future<Output = Result<u64>>,
    {
        let mut jobs = jobs.into_iter();
        let mut running = FuturesUnordered::new();
        // A new phase: the wait before it is no window of work.
        self.with_controller(|c, done, bytes, throttles, now| {
            c.restart(done, bytes, throttles, now)
        });
        let mut tail = false;
        let mut failed = None;
        loop {
            while failed.is_none() && running.len() < self.limit.load(Ordering::Relaxed) {
                match jobs.next() {
                    Some(job) => running.push(job),
                    None => {
                        // The tail: fewer writes than the limit, a rate that says nothing.
                        tail = true;
                        break;
                    }
                }
            }
            match running.next().await {
                None => return failed.map_or(Ok(()), Err),
                Some(Ok(bytes)) => self.record(bytes, !tail && failed.is_none()),
                Some(Err(e)) => {
                    failed.get_or_insert(e);
                }
            }
        }
    }

    fn record(&self, bytes: u64, judge: bool) {
        self.done.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        if judge {
            self.with_controller(|c, done, bytes, throttles, now| {
                c.observe(done, bytes, throttles, now);
            });
        }
    }

    /// Runs `f` on the controller (when the limit adapts) with the totals, then publishes
    /// the limit it leaves.
    fn with_controller(&self, f: impl FnOnce(&mut Adaptive, u64, u64, u64, u64)) {
        let Some(controller) = &self.adaptive else {
            return;
        };
        let mut c = controller.lock().unwrap_or_else(|e| e.into_inner());
        f(
            &mut c,
            self.done.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
            self.throttles(),
            self.now_ms(),
        );
        let limit = c.limit();
        self.limit.store(limit, Ordering::Relaxed);
        self.peak.fetch_max(limit, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::Limiter;
    use crate::pipeline::test_support::block_on;
    use crate::ports::memory::MemoryStore;
    use shipit_core::error::Error;

    /// (limit, index of the job that fails): of the first `limit` jobs, one fails and the
    /// others all finish (the failed one counted as ended); none of the rest starts.
    #[test]
    fn the_first_error_lets_what_is_in_flight_finish_and_starts_nothing_more() {
        for (limit, fails) in [(1, 0), (2, 0), (3, 1), (4, 3)] {
            let store = MemoryStore::new("b", "");
            let limiter = Limiter::new(limit, false, &store);
            let (done, begun) = (AtomicUsize::new(0), AtomicUsize::new(0));
            let jobs = (0..limit + 5).map(|i| {
                let (done, begun) = (&done, &begun);
                async move {
                    begun.fetch_add(1, Ordering::SeqCst);
                    if i == fails {
                        return Err(Error::aws(format!("job {i} failed")));
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    done.fetch_add(1, Ordering::SeqCst);
                    Ok(1)
                }
            });
            let err = block_on(limiter.run(jobs)).unwrap_err();
            assert!(
                err.to_string().contains(&format!("job {fails} failed")),
                "{err}"
            );
            let seen = (
                done.load(Ordering::SeqCst) + 1,
                begun.load(Ordering::SeqCst),
            );
            assert_eq!(seen, (limit, limit), "limit {limit}, job {fails} fails");
        }
    }
}
