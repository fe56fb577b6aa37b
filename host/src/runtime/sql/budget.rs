//! What one plugin call may spend on SQL: time and bytes. The call's deadline is shared with
//! SQLite's progress handler, which stops a statement that runs past it, and it caps how long a
//! statement waits for a lock; a [`ResultBudget`] counts the bytes of a result while it is read, so a
//! few rows of huge values are refused before the host holds them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Most bytes one query may return to a plugin (its values, plus [`VALUE_OVERHEAD_BYTES`] for each,
/// plus the column names). The host also caps it at the plugin's memory limit: a larger result could
/// not be handed to the plugin anyway. 16 MiB is far more than a check or a migration reads.
pub const MAX_SQL_RESULT_BYTES: usize = 16 << 20;
/// What one value costs against [`MAX_SQL_RESULT_BYTES`] besides its own bytes: its slot in the row.
pub const VALUE_OVERHEAD_BYTES: usize = 16;
/// Longest statement or `execute-batch` script the host prepares, in bytes (also SQLite's own
/// `SQLITE_LIMIT_SQL_LENGTH` on every plugin connection). Far above any migration script.
pub const MAX_SQL_STATEMENT_BYTES: usize = 4 << 20;
/// How many SQLite virtual-machine instructions run between two checks of the call's deadline:
/// about ten to a hundred microseconds of work, so a runaway query stops within a tick of the
/// deadline while the check (one clock read) costs well under 1%.
pub const SQL_PROGRESS_OPS: i32 = 1_000;

/// The deadline of the plugin call in progress, shared with the progress handlers of the plugin's
/// connections (they run on the host's thread, inside SQLite).
#[derive(Debug, Clone)]
pub struct Deadline(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    base: Instant,
    /// Nanoseconds after `base` when the call's time is up; `u64::MAX` when there is no limit.
    at: AtomicU64,
    /// The call's time limit, for messages.
    limit_nanos: AtomicU64,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Deadline {
    /// A deadline `limit` from now.
    pub fn new(limit: Duration) -> Self {
        let d = Deadline(Arc::new(Shared {
            base: Instant::now(),
            at: AtomicU64::new(u64::MAX),
            limit_nanos: AtomicU64::new(nanos(limit)),
        }));
        d.start(limit);
        d
    }

    /// Starts a call: its time is up `limit` from now.
    pub fn start(&self, limit: Duration) {
        let now = nanos(self.0.base.elapsed());
        self.0.limit_nanos.store(nanos(limit), Ordering::Relaxed);
        self.0.at.store(now.saturating_add(nanos(limit)), Ordering::Relaxed);
    }

    /// Lifts the limit, for the host's own clean-up between calls (rolling back what a call left).
    pub fn lift(&self) {
        self.0.at.store(u64::MAX, Ordering::Relaxed);
    }

    /// Whether the call's time is up.
    pub fn passed(&self) -> bool {
        nanos(self.0.base.elapsed()) >= self.0.at.load(Ordering::Relaxed)
    }

    /// Time left in the call (zero once it is up).
    pub fn remaining(&self) -> Duration {
        let at = self.0.at.load(Ordering::Relaxed);
        Duration::from_nanos(at.saturating_sub(nanos(self.0.base.elapsed())))
    }

    /// The call's time limit.
    pub fn limit(&self) -> Duration {
        Duration::from_nanos(self.0.limit_nanos.load(Ordering::Relaxed))
    }
}

/// Bytes a result may still take before it is refused.
#[derive(Debug)]
pub struct ResultBudget {
    limit: usize,
    used: usize,
}

/// A result went past its budget.
#[derive(Debug, PartialEq, Eq)]
pub struct OverBudget;

impl ResultBudget {
    pub fn new(limit: usize) -> Self {
        ResultBudget { limit, used: 0 }
    }

    /// Counts `bytes` more; refuses them if the result would go past the limit.
    pub fn take(&mut self, bytes: usize) -> Result<(), OverBudget> {
        let used = self.used.saturating_add(bytes);
        if used > self.limit {
            return Err(OverBudget);
        }
        self.used = used;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_passes_after_its_limit_and_can_be_lifted_and_restarted() {
        let d = Deadline::new(Duration::from_millis(20));
        assert!(!d.passed());
        assert!(d.remaining() <= Duration::from_millis(20));
        std::thread::sleep(Duration::from_millis(30));
        assert!(d.passed());
        assert_eq!(d.remaining(), Duration::ZERO);
        d.lift();
        assert!(!d.passed());
        d.start(Duration::from_secs(5));
        assert!(!d.passed());
        assert_eq!(d.limit(), Duration::from_secs(5));
    }

    #[test]
    fn a_zero_limit_is_up_at_once() {
        assert!(Deadline::new(Duration::ZERO).passed());
    }

    #[test]
    fn a_result_budget_refuses_the_byte_that_goes_past_it() {
        let mut b = ResultBudget::new(100);
        assert_eq!(b.take(60), Ok(()));
        assert_eq!(b.take(40), Ok(()));
        assert_eq!(b.take(1), Err(OverBudget));
        assert_eq!(ResultBudget::new(10).take(usize::MAX), Err(OverBudget));
    }
}
