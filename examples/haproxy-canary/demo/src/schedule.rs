//! Which requests get a fault (an error, added latency): a deterministic share of them, spread
//! evenly, so a run shows exactly the rate asked for and tests can count on it.

use std::sync::atomic::{AtomicU64, Ordering};

/// Rates are kept in parts per million so the schedule is exact integer arithmetic; finer rates are
/// rounded.
pub const RATE_SCALE: u64 = 1_000_000;

/// Request `k` (counting from 0) is picked when `floor((k+1)·rate) > floor(k·rate)`, so any `n`
/// consecutive requests hold `floor(n·rate)` or `ceil(n·rate)` picks, spread evenly.
pub struct Schedule {
    rate_ppm: u64,
    next_request: AtomicU64,
}

impl Schedule {
    /// A schedule picking `rate` (0 to 1) of the requests, starting at request `start`.
    pub fn new(rate: f64, start: Option<u64>) -> Self {
        let rate_ppm = (rate.clamp(0.0, 1.0) * RATE_SCALE as f64).round() as u64;
        Self { rate_ppm, next_request: AtomicU64::new(start.unwrap_or(0)) }
    }

    /// Takes the next request's place in the schedule (shared by every connection): is it picked?
    pub fn next_picked(&self) -> bool {
        picked(self.next_request.fetch_add(1, Ordering::Relaxed), self.rate_ppm)
    }

    /// Requests counted so far (from the start given).
    pub fn position(&self) -> u64 {
        self.next_request.load(Ordering::Relaxed)
    }
}

/// Whether request `k` is picked at `rate_ppm`.
pub fn picked(k: u64, rate_ppm: u64) -> bool {
    let (k, rate, scale) = (u128::from(k), u128::from(rate_ppm), u128::from(RATE_SCALE));
    (k + 1) * rate / scale > k * rate / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picks(rate: f64, start: u64, count: u64) -> usize {
        let schedule = Schedule::new(rate, Some(start));
        (0..count).filter(|_| schedule.next_picked()).count()
    }

    #[test]
    fn five_percent_picks_exactly_five_of_every_hundred() {
        for start in 0..1_000 {
            assert_eq!(picks(0.05, start, 100), 5, "window starting at request {start}");
        }
    }

    #[test]
    fn five_percent_picks_are_spread_one_per_twenty() {
        let picked: Vec<u64> = (0..100).filter(|&k| picked(k, 50_000)).collect();
        assert_eq!(picked, [19, 39, 59, 79, 99]);
    }

    #[test]
    fn zero_never_picks_and_one_always_does() {
        assert_eq!(picks(0.0, 0, 10_000), 0);
        assert_eq!(picks(1.0, 0, 10_000), 10_000);
    }

    #[test]
    fn the_schedule_holds_at_the_end_of_the_counter() {
        assert_eq!(picks(0.5, u64::MAX - 9, 10), 5);
    }
}
