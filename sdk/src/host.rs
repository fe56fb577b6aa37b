//! The host functions every plugin may call: logging, the clock and plugin-scoped state.
//!
//! Compiled for `wasm32` these call the host. Compiled natively (for plugin unit tests) they use
//! in-process stand-ins: logs go to stderr, the clock is the system clock, state is thread-local.

/// Structured logging into the host's log and the rollout's audit trail.
pub mod log {
    pub use crate::bindings::host::upshift::plugin::log::Level;

    /// Records `message` with `fields` at `level`.
    pub fn emit(level: Level, message: &str, fields: &[(&str, &str)]) {
        #[cfg(target_arch = "wasm32")]
        {
            use crate::bindings::host::upshift::plugin::log::{Field, emit};
            let fields: Vec<Field> = fields
                .iter()
                .map(|(k, v)| Field {
                    key: k.to_string(),
                    value: v.to_string(),
                })
                .collect();
            emit(level, message, &fields);
        }
        #[cfg(not(target_arch = "wasm32"))]
        eprintln!("[{level:?}] {message} {fields:?}");
    }

    pub fn debug(message: &str) {
        emit(Level::Debug, message, &[]);
    }

    pub fn info(message: &str) {
        emit(Level::Info, message, &[]);
    }

    pub fn warn(message: &str) {
        emit(Level::Warn, message, &[]);
    }

    pub fn error(message: &str) {
        emit(Level::Error, message, &[]);
    }
}

/// The host's clock.
pub mod clock {
    /// Milliseconds since the Unix epoch, as the host sees it.
    pub fn now_millis() -> u64 {
        #[cfg(target_arch = "wasm32")]
        {
            crate::bindings::host::upshift::plugin::clock::now_millis()
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0)
        }
    }
}

/// A small key-value store scoped to this plugin within this rollout, persisted by the host.
pub mod state {
    use crate::types::PluginError;

    #[cfg(target_arch = "wasm32")]
    use crate::bindings::host::upshift::plugin::state as host;

    #[cfg(not(target_arch = "wasm32"))]
    mod host {
        //! Thread-local stand-in used when plugin logic runs natively in unit tests.
        use std::cell::RefCell;
        use std::collections::BTreeMap;

        use crate::types::PluginError;

        thread_local! {
            static STATE: RefCell<BTreeMap<String, String>> = const { RefCell::new(BTreeMap::new()) };
        }

        pub fn get(key: &str) -> Option<String> {
            STATE.with(|s| s.borrow().get(key).cloned())
        }

        pub fn set(key: &str, value: &str) -> Result<(), PluginError> {
            STATE.with(|s| s.borrow_mut().insert(key.to_string(), value.to_string()));
            Ok(())
        }

        pub fn remove(key: &str) {
            STATE.with(|s| s.borrow_mut().remove(key));
        }

        pub fn keys() -> Vec<String> {
            STATE.with(|s| s.borrow().keys().cloned().collect())
        }
    }

    pub fn get(key: &str) -> Option<String> {
        host::get(key)
    }

    /// Fails with `denied` when the key or value is larger than the host allows.
    pub fn set(key: &str, value: &str) -> Result<(), PluginError> {
        host::set(key, value)
    }

    pub fn remove(key: &str) {
        host::remove(key)
    }

    /// Every key, in lexicographic order.
    pub fn keys() -> Vec<String> {
        host::keys()
    }
}
