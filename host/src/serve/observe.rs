//! The seam through which other parts of the server (metrics, webhooks) see what the controller
//! journals: every commit of a rollout it drives, and every control applied through the API, in the
//! order committed. Observers run on the thread that committed, so they must be quick and never
//! block (hand work to a queue).

use std::sync::Arc;

use crate::engine::State;
use crate::store::NewEntry;

/// Told of every journal commit the server makes.
pub trait JournalObserver: Send + Sync {
    /// `entries` were committed to rollout `rollout_id`, leaving it in `state`.
    fn committed(&self, rollout_id: &str, entries: &[NewEntry], state: &State);
}

/// The observers of a server, called in the order they were added.
#[derive(Clone, Default)]
pub struct Observers(Vec<Arc<dyn JournalObserver>>);

impl Observers {
    pub fn add(&mut self, observer: Arc<dyn JournalObserver>) {
        self.0.push(observer);
    }

    pub fn committed(&self, rollout_id: &str, entries: &[NewEntry], state: &State) {
        for o in &self.0 {
            o.committed(rollout_id, entries, state);
        }
    }
}

impl std::fmt::Debug for Observers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Observers({})", self.0.len())
    }
}
