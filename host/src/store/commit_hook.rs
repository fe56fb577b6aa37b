//! How long journal commits take, told to one process-wide observer (the controller's metrics).
//!
//! Process-wide rather than per [`Store`](super::Store): a process opens many connections (one per
//! runner, per request, per notifier), and every one of them should be measured without each
//! opener remembering to attach something. With no observer set, a commit pays one read lock.

use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Told the duration of every committed transaction that appended to the journal.
pub trait CommitObserver: Send + Sync {
    /// A transaction that wrote `entries` journal entries committed after `duration` (from taking
    /// the write lock to the end of the commit, fsync included).
    fn journal_committed(&self, entries: usize, duration: Duration);
}

static OBSERVER: RwLock<Option<Arc<dyn CommitObserver>>> = RwLock::new(None);

/// Reports every later journal commit of this process to `observer`; `None` stops reporting.
pub fn set_commit_observer(observer: Option<Arc<dyn CommitObserver>>) {
    *OBSERVER.write().unwrap_or_else(|p| p.into_inner()) = observer;
}

pub(super) fn committed(entries: usize, duration: Duration) {
    if entries == 0 {
        return;
    }
    if let Some(o) = OBSERVER.read().unwrap_or_else(|p| p.into_inner()).as_ref() {
        o.journal_committed(entries, duration);
    }
}
