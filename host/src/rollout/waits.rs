//! How a runner waits: bakes against their stored due time (a restarted runner keeps the original
//! deadline), and short sleeps that end early when the rollout changes or the runner is told to stop.

use std::sync::atomic::Ordering;
use std::thread::sleep;
use std::time::Duration;

use super::now_ms;
use super::runner::{BAKE_REPORT_EVERY, POLL_INTERVAL, Reporter, RunError, Runner};
use crate::engine::State;
use crate::store::RolloutHead;

/// In controller mode, a wait with more than this left is given back to the controller as a timer
/// ([`super::Halt::Timer`]) instead of being slept through: every wait, so a baking rollout holds no
/// thread and no plugin instance (ten thousand rollouts baking cost their records, nothing more).
pub const YIELD_WAITS_OVER: Duration = Duration::ZERO;

/// When a wait of `seconds` that starts at `at` (ms since the epoch) is due.
pub(super) fn due_after(at: i64, seconds: u64) -> i64 {
    at.saturating_add(i64::try_from(seconds.saturating_mul(1000)).unwrap_or(i64::MAX))
}

impl Runner<'_> {
    /// Whether the controller asked this runner to stop.
    pub(super) fn stopping(&self) -> bool {
        self.opts.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst))
    }

    /// Sleeps `total`, returning early with `true` if the rollout changed meanwhile (or the runner
    /// is told to stop).
    pub(super) fn sleep_unless_changed(&self, rec: &RolloutHead, total: Duration) -> Result<bool, RunError> {
        let until = std::time::Instant::now() + total;
        loop {
            let now = std::time::Instant::now();
            if now >= until {
                return Ok(false);
            }
            sleep(POLL_INTERVAL.min(until - now));
            if self.stopping() || self.store.rollout_head(&self.id)?.version != rec.version {
                return Ok(true);
            }
        }
    }

    /// When the outstanding wait of `state` is due (ms since the epoch): stored when the wait starts,
    /// so a restarted runner keeps the original deadline.
    /// (The transition that issues a wait stores its due time; a rollout from before that, or a
    /// wait issued by a control, has it stored here.)
    pub(super) fn due(&self, state: &State, seconds: u64) -> Result<i64, RunError> {
        Ok(match self.store.timer(&self.id, state.issued)? {
            Some(due) => due,
            None => {
                let due = due_after(now_ms(), seconds);
                self.store.set_timer(&self.id, state.issued, due)?;
                due
            }
        })
    }

    /// Waits out a bake. Returns `true` if the rollout changed meanwhile (the wait is abandoned).
    pub(super) fn wait(
        &mut self,
        rec: &RolloutHead,
        state: &State,
        seconds: u64,
        reporter: &mut dyn Reporter,
    ) -> Result<bool, RunError> {
        let due = self.due(state, seconds)?;
        let mut next_report = 0i64;
        loop {
            let now = now_ms();
            if now >= due {
                return Ok(false);
            }
            let remaining = Duration::from_millis((due - now) as u64);
            if seconds > 0 && now >= next_report {
                reporter.baking(state, &self.plan, remaining);
                next_report = now + BAKE_REPORT_EVERY.as_millis() as i64;
            }
            if self.sleep_unless_changed(rec, remaining.min(POLL_INTERVAL))? {
                return Ok(true);
            }
        }
    }
}
