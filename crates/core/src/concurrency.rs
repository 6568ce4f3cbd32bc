//! How many writes are in flight: a limit that grows while throughput grows and halves when S3
//! throttles (SlowDown, 503, 429), between a floor and a ceiling.
//!
//! Against S3 a PUT takes tens of milliseconds whatever its size, so the rate is about the
//! limit over the latency until something else binds: the uplink, the machine, or S3's
//! per-prefix rate (3,500 writes a second). A fixed limit is either too low for a far region or
//! more than a throttled bucket takes. The controller measures each window of completions and
//! grows the limit by half while the rate still rises by a tenth; a plateau holds it; a throttle
//! answer halves it and starts measuring afresh. `--concurrency N` fixes the limit instead.
//!
//! Pure: the pipeline reports completions, bytes and throttles with the time; this decides.

/// The ceiling when none is given: far above what one prefix takes at 20 ms a request, and
/// what a CI runner's sockets and memory take easily (a write holds no more than a part).
pub const MAX: usize = 256;
/// The floor: a throttled bucket still moves.
pub const MIN: usize = 4;
/// A window is at least this long...
const WINDOW_MS: u64 = 250;
/// ... and this many completions (or the limit, when larger).
const WINDOW_COMPLETIONS: u64 = 16;
/// Growth that counts: a tenth more than the best window so far.
const GAIN: f64 = 1.10;

/// The controller's state.
#[derive(Debug, Clone)]
pub struct Adaptive {
    limit: usize,
    min: usize,
    max: usize,
    /// Where the current window started: time, completions, bytes, throttles.
    start: (u64, u64, u64, u64),
    /// The best rate seen since growth last started (work units a second).
    best: f64,
    /// Still growing: a window that did not gain ends the growth until a throttle resets it.
    growing: bool,
    /// Below a limit that was throttled: growth stops short of it, and the cap rises by a
    /// tenth each quiet window (S3 raises a prefix's rate as load persists).
    cap: usize,
    /// After a cut, the completions until the writes in flight at the cut have finished:
    /// their throttle answers belong to the episode already answered.
    calm_after: u64,
}

/// What a window saw: work done a second, and whether S3 throttled.
fn units(completions: u64, bytes: u64) -> f64 {
    // A request costs about as much as 256 KiB on the wire: small files count by request,
    // large ones by bytes.
    completions as f64 + bytes as f64 / (256.0 * 1024.0)
}

impl Adaptive {
    pub fn new(start: usize, min: usize, max: usize, now_ms: u64) -> Adaptive {
        let (min, max) = (min.max(1), max.max(min.max(1)));
        Adaptive {
            limit: start.clamp(min, max),
            min,
            max,
            start: (now_ms, 0, 0, 0),
            best: 0.0,
            growing: true,
            cap: max,
            calm_after: 0,
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Starts a new window at these totals without judging the last one: the work stopped
    /// for a while (between phases) or the writes ran out (a phase's tail), and a window
    /// spanning that would read as a plateau.
    pub fn restart(&mut self, completions: u64, bytes: u64, throttles: u64, now_ms: u64) {
        self.start = (now_ms, completions, bytes, throttles);
    }

    /// Totals so far (completions, bytes, throttle answers) at `now_ms`; returns the limit.
    pub fn observe(&mut self, completions: u64, bytes: u64, throttles: u64, now_ms: u64) -> usize {
        let (t0, c0, b0, th0) = self.start;
        if throttles > th0 {
            if completions >= self.calm_after {
                // S3 asks for less: half, grow again to three quarters of this at most.
                self.cap = (self.limit * 3 / 4).max(self.min);
                self.calm_after = completions + self.limit as u64;
                self.limit = (self.limit / 2).max(self.min);
                self.best = 0.0;
                self.growing = true;
            }
            // Measure afresh from here (answers to writes sent before the cut included).
            self.start = (now_ms, completions, bytes, throttles);
            return self.limit;
        }
        let elapsed = now_ms.saturating_sub(t0);
        let done = completions.saturating_sub(c0);
        if elapsed < WINDOW_MS || done < WINDOW_COMPLETIONS.max(self.limit as u64) {
            return self.limit;
        }
        let rate = units(done, bytes.saturating_sub(b0)) * 1000.0 / elapsed as f64;
        let ceiling = self.cap.min(self.max).max(self.min);
        if rate >= self.best * GAIN {
            self.best = rate;
            if self.growing {
                self.limit = (self.limit + self.limit / 2).clamp(self.min, ceiling);
            }
        } else if self.limit < ceiling {
            // A plateau below the cap: more in flight does not help.
            self.growing = false;
        }
        // Held by the cap, growth goes on as the cap rises.
        self.best = self.best.max(rate);
        self.cap = (self.cap + self.cap / 10 + 1).min(self.max);
        self.start = (now_ms, completions, bytes, throttles);
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drives the controller against a simulated service: `rate(limit)` completions a second
    /// (small writes), `throttle(limit)` whether a window at that limit gets a throttle answer.
    fn drive(
        c: &mut Adaptive,
        seconds: u64,
        rate: impl Fn(usize) -> f64,
        throttle: impl Fn(usize) -> bool,
    ) -> Vec<usize> {
        let (mut now, mut done, mut throttles) = (0u64, 0f64, 0u64);
        let mut limits = Vec::new();
        while now < seconds * 1000 {
            now += 50;
            done += rate(c.limit()) * 0.05;
            if throttle(c.limit()) && now % 500 == 0 {
                throttles += 1;
            }
            let l = c.observe(done as u64, 0, throttles, now);
            if limits.last() != Some(&l) {
                limits.push(l);
            }
        }
        limits
    }

    #[test]
    fn grows_while_throughput_grows_and_holds_at_the_plateau() {
        // Latency-bound up to 100 in flight (20 ms a request), then the uplink binds.
        let mut c = Adaptive::new(32, MIN, MAX, 0);
        let limits = drive(&mut c, 10, |l| l.min(100) as f64 * 50.0, |_| false);
        assert_eq!(limits.first(), Some(&32));
        let last = *limits.last().unwrap();
        assert!((100..=MAX).contains(&last), "{limits:?}");
        // It stopped growing once the rate stopped rising: one step past the knee at most.
        assert!(last < 100 * 2, "{limits:?}");
    }

    #[test]
    fn a_throttle_halves_it_and_it_settles_below_the_throttle() {
        // S3 throttles above 80 in flight.
        let mut c = Adaptive::new(64, MIN, MAX, 0);
        let limits = drive(&mut c, 20, |l| l as f64 * 50.0, |l| l > 80);
        assert!(
            limits.iter().any(|&l| l > 80),
            "it probed upwards: {limits:?}"
        );
        assert!(*limits.last().unwrap() <= 80, "{limits:?}");
        assert!(limits.iter().all(|&l| l >= MIN));
    }

    #[test]
    fn a_server_bound_rate_stops_growth_at_once_and_bounds_hold() {
        // The rate does not depend on the limit (a local server): no growth past one step.
        let mut c = Adaptive::new(32, MIN, MAX, 0);
        let limits = drive(&mut c, 10, |_| 700.0, |_| false);
        assert!(limits.iter().all(|&l| l <= 48), "{limits:?}");
        // Throttled all the time: down to the floor, never below.
        let mut c = Adaptive::new(32, MIN, MAX, 0);
        let limits = drive(&mut c, 10, |l| l as f64 * 10.0, |_| true);
        assert_eq!(*limits.last().unwrap(), MIN, "{limits:?}");
        // Never above the ceiling.
        let mut c = Adaptive::new(32, MIN, 40, 0);
        let limits = drive(&mut c, 10, |l| l as f64 * 50.0, |_| false);
        assert_eq!(*limits.last().unwrap(), 40, "{limits:?}");
        assert_eq!(Adaptive::new(1000, 4, 8, 0).limit(), 8);
        assert_eq!(Adaptive::new(0, 4, 8, 0).limit(), 4);
    }

    #[test]
    fn a_burst_of_throttles_is_one_cut_and_growth_resumes_under_the_cap() {
        let mut c = Adaptive::new(64, MIN, MAX, 0);
        // Eight completions in a row each see more 503s: one episode, one cut.
        for i in 1..=8u64 {
            c.observe(i, 0, i, 10 * i);
        }
        assert_eq!(c.limit(), 32);
        // Quiet again, a rate that keeps rising with the limit: it grows back towards the
        // cap (48), and past it as the cap recovers.
        let (mut now, mut done) = (100u64, 8u64);
        let mut seen = Vec::new();
        for _ in 0..200 {
            now += 50;
            done += (c.limit() as u64) * 50 / 20; // 20 ms a write
            seen.push(c.observe(done, 0, 8, now));
        }
        assert!(seen.iter().any(|&l| l > 32), "{seen:?}");
        assert!(*seen.last().unwrap() > 48, "the cap recovers: {seen:?}");
    }

    #[test]
    fn a_restarted_window_is_not_judged() {
        let mut c = Adaptive::new(32, MIN, MAX, 0);
        c.observe(100, 0, 0, 300);
        let grown = c.limit();
        assert_eq!(grown, 48);
        // A long pause between phases, then a faster window: it grows on.
        let mut paused = c.clone();
        c.restart(100, 0, 0, 10_000);
        assert_eq!(c.observe(220, 0, 0, 10_300), 72);
        // Judged across the pause, the same work reads as a plateau.
        assert_eq!(paused.observe(220, 0, 0, 10_300), 48);
    }

    #[test]
    fn large_files_count_by_their_bytes() {
        assert_eq!(units(1, 0), 1.0);
        assert_eq!(units(1, 1024 * 1024), 5.0);
    }
}
