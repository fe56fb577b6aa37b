//! Watching plugin calls from outside the sandbox: how long each call took and which limit stopped
//! it. The runtime reports to at most one [`CallObserver`] per [`Runtime`](super::Runtime) (the
//! controller's metrics); with none set, a report costs one uncontended read lock.
//!
//! An observer is called on the thread that made the call, right after it returns, so it must be
//! quick and must not block (update a counter, not a database).

use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Told about every plugin call a runtime makes.
pub trait CallObserver: Send + Sync {
    /// A call returned (with a result or an error) after `duration`, instantiation included when
    /// the call started a fresh instance. `call` is the contract's name (`apply`, `verify`...).
    fn call_finished(&self, plugin: &str, call: &'static str, duration: Duration);

    /// A limit stopped a call: `limit` is [`CallError::limit`](super::CallError::limit)'s name
    /// (`time`, `memory`, `stack`, `resources`, `return size`).
    fn limit_hit(&self, plugin: &str, call: &'static str, limit: &'static str);
}

/// Where a runtime and every plugin it loaded find the observer, so one set after loading is
/// still told.
#[derive(Default)]
pub(super) struct ObserverSlot(RwLock<Option<Arc<dyn CallObserver>>>);

impl ObserverSlot {
    pub(super) fn set(&self, observer: Option<Arc<dyn CallObserver>>) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = observer;
    }

    pub(super) fn get(&self) -> Option<Arc<dyn CallObserver>> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(super) fn limit_hit(&self, plugin: &str, call: &'static str, limit: &'static str) {
        if let Some(o) = self.get() {
            o.limit_hit(plugin, call, limit);
        }
    }
}
