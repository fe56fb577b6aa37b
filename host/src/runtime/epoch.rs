//! Wall-clock deadlines for plugin calls: a background thread advances the engine's epoch every
//! [`EPOCH_TICK`], and [`deadline_ticks`] turns a timeout into the number of ticks a store may run.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::Engine;

/// How often the epoch advances: the granularity of every call deadline. 10 ms keeps the cost of
/// the check negligible while stopping a runaway plugin within a hundredth of a second of its limit.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The number of epoch ticks to allow for `timeout`.
///
/// Rounded up to whole ticks, plus one: the next tick may come at any moment after the deadline is
/// set, so one tick is only ever a partial one. A zero timeout still allows that one partial tick.
pub fn deadline_ticks(timeout: Duration) -> u64 {
    let tick = EPOCH_TICK.as_nanos();
    let whole = timeout.as_nanos().div_ceil(tick);
    u64::try_from(whole).unwrap_or(u64::MAX - 1).saturating_add(1)
}

/// Advances an engine's epoch every [`EPOCH_TICK`] until dropped.
#[derive(Debug)]
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    pub fn start(engine: &Engine) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let engine = engine.clone();
        let flag = stop.clone();
        let thread = std::thread::Builder::new().name("upshift-epoch".into()).spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        })?;
        Ok(EpochTicker { stop, thread: Some(thread) })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_ticks_get_one_more_for_the_partial_tick() {
        assert_eq!(deadline_ticks(Duration::from_millis(50)), 6);
    }

    #[test]
    fn partial_ticks_round_up() {
        assert_eq!(deadline_ticks(Duration::from_millis(51)), 7);
    }

    #[test]
    fn zero_timeout_still_allows_the_partial_tick() {
        assert_eq!(deadline_ticks(Duration::ZERO), 1);
    }

    #[test]
    fn huge_timeouts_saturate() {
        assert_eq!(deadline_ticks(Duration::MAX), u64::MAX);
    }
}
