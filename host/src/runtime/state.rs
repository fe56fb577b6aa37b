//! The plugin-scoped key-value state: what a plugin stores through the `state` import, with its size
//! limits. The engine persists it with the rollout; the runtime only holds it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// Longest key a plugin may use.
pub const MAX_STATE_KEY_BYTES: usize = 256;
/// Largest single value.
pub const MAX_STATE_VALUE_BYTES: usize = 64 << 10;
/// Total size of all keys and values of one plugin in one rollout: state is for bookkeeping
/// (operation ids, checkpoints), not for data.
pub const MAX_STATE_BYTES: usize = 1 << 20;

/// Why a `state.set` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("state key of {0} bytes is longer than the {MAX_STATE_KEY_BYTES}-byte limit")]
    KeyTooLong(usize),
    #[error("state value of {0} bytes is larger than the {MAX_STATE_VALUE_BYTES}-byte limit")]
    ValueTooLarge(usize),
    #[error("plugin state would grow to {0} bytes, past the {MAX_STATE_BYTES}-byte limit")]
    Full(usize),
}

/// One plugin's state, shared between the runtime (which serves the plugin's calls) and the engine
/// (which persists it). Cloning shares the same map.
#[derive(Debug, Clone, Default)]
pub struct PluginState {
    entries: Arc<Mutex<BTreeMap<String, String>>>,
}

impl PluginState {
    pub fn from_entries(entries: BTreeMap<String, String>) -> Self {
        PluginState { entries: Arc::new(Mutex::new(entries)) }
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, String>> {
        // A panic while holding this lock cannot leave the map half-written (every mutation is a
        // single insert or remove), so a poisoned lock is still safe to use.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, key: &str) -> Option<String> {
        self.lock().get(key).cloned()
    }

    pub fn set(&self, key: String, value: String) -> Result<(), StateError> {
        if key.len() > MAX_STATE_KEY_BYTES {
            return Err(StateError::KeyTooLong(key.len()));
        }
        if value.len() > MAX_STATE_VALUE_BYTES {
            return Err(StateError::ValueTooLarge(value.len()));
        }
        let mut map = self.lock();
        let old = map.get(&key).map_or(0, |v| key.len() + v.len());
        let total = size(&map) - old + key.len() + value.len();
        if total > MAX_STATE_BYTES {
            return Err(StateError::Full(total));
        }
        map.insert(key, value);
        Ok(())
    }

    pub fn remove(&self, key: &str) {
        self.lock().remove(key);
    }

    pub fn keys(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// A copy of every entry, for persisting.
    pub fn snapshot(&self) -> BTreeMap<String, String> {
        self.lock().clone()
    }
}

fn size(map: &BTreeMap<String, String>) -> usize {
    map.iter().map(|(k, v)| k.len() + v.len()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_remove_round_trip() {
        let s = PluginState::default();
        s.set("a".into(), "1".into()).unwrap();
        assert_eq!(s.get("a").as_deref(), Some("1"));
        s.remove("a");
        assert_eq!(s.get("a"), None);
    }

    #[test]
    fn clones_share_entries() {
        let s = PluginState::default();
        s.clone().set("k".into(), "v".into()).unwrap();
        assert_eq!(s.keys(), vec!["k".to_string()]);
    }

    #[test]
    fn oversized_key_and_value_are_refused() {
        let s = PluginState::default();
        assert_eq!(s.set("k".repeat(300), String::new()), Err(StateError::KeyTooLong(300)));
        let big = "v".repeat(MAX_STATE_VALUE_BYTES + 1);
        assert_eq!(s.set("k".into(), big), Err(StateError::ValueTooLarge(MAX_STATE_VALUE_BYTES + 1)));
    }

    #[test]
    fn total_size_is_capped_but_overwrites_count_once() {
        let s = PluginState::default();
        let value = "v".repeat(MAX_STATE_VALUE_BYTES);
        let mut stored = 0;
        for i in 0.. {
            match s.set(format!("{i:03}"), value.clone()) {
                Ok(()) => stored += 1,
                Err(StateError::Full(_)) => break,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(stored, MAX_STATE_BYTES / (MAX_STATE_VALUE_BYTES + 3));
        // Overwriting an existing key with a value of the same size still fits.
        s.set("000".into(), value).unwrap();
    }
}
