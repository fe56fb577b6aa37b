//! The host functions every plugin may call: logging, the clock, plugin-scoped state, and the
//! databases the spec grants (`sql`).
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
            let fields: Vec<Field> =
                fields.iter().map(|(k, v)| Field { key: k.to_string(), value: v.to_string() }).collect();
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

/// The databases of the connections the spec grants this plugin (`grants.sql = ["NAME"]`), each
/// addressed as `connection/database`. Compiled natively (unit tests) every call fails with `denied`.
pub mod sql {
    pub use crate::bindings::host::upshift::plugin::sql::{Dialect, Rows, Value};
    use crate::types::PluginError;

    #[cfg(target_arch = "wasm32")]
    use crate::bindings::host::upshift::plugin::sql as host;

    #[cfg(not(target_arch = "wasm32"))]
    mod host {
        //! Native stand-in: there is no host to ask.
        use super::{Dialect, Rows, Value};
        use crate::types::PluginError;

        fn unavailable() -> PluginError {
            PluginError::denied("sql is only available to a plugin running inside upshift")
        }
        pub fn databases(_: &str) -> Result<Vec<String>, PluginError> {
            Err(unavailable())
        }
        pub fn dialect_of(_: &str) -> Result<Dialect, PluginError> {
            Err(unavailable())
        }
        pub fn execute(_: &str, _: &str, _: &[Value]) -> Result<u64, PluginError> {
            Err(unavailable())
        }
        pub fn execute_batch(_: &str, _: &str) -> Result<(), PluginError> {
            Err(unavailable())
        }
        pub fn query(_: &str, _: &str, _: &[Value]) -> Result<Rows, PluginError> {
            Err(unavailable())
        }
        pub fn begin(_: &str) -> Result<(), PluginError> {
            Err(unavailable())
        }
        pub fn commit(_: &str) -> Result<(), PluginError> {
            Err(unavailable())
        }
        pub fn rollback(_: &str) -> Result<(), PluginError> {
            Err(unavailable())
        }
    }

    /// The databases of a granted connection, as `connection/database`.
    pub fn databases(connection: &str) -> Result<Vec<String>, PluginError> {
        host::databases(connection)
    }

    /// The engine `database` runs on, which decides the SQL to write (parameters are `?1` on SQLite,
    /// `$1` on PostgreSQL).
    pub fn dialect_of(database: &str) -> Result<Dialect, PluginError> {
        host::dialect_of(database)
    }

    /// Runs one statement with positional parameters; returns the rows it changed.
    pub fn execute(database: &str, statement: &str, params: &[Value]) -> Result<u64, PluginError> {
        host::execute(database, statement, params)
    }

    /// Runs a script of `;`-separated statements without parameters.
    pub fn execute_batch(database: &str, script: &str) -> Result<(), PluginError> {
        host::execute_batch(database, script)
    }

    pub fn query(database: &str, statement: &str, params: &[Value]) -> Result<Rows, PluginError> {
        host::query(database, statement, params)
    }

    /// The first column of the first row, if any.
    pub fn query_value(database: &str, statement: &str, params: &[Value]) -> Result<Option<Value>, PluginError> {
        Ok(query(database, statement, params)?.rows.into_iter().next().and_then(|r| r.into_iter().next()))
    }

    /// Runs `f` in a transaction on `database`: committed if `f` succeeds, rolled back if it fails.
    pub fn transaction<T>(database: &str, f: impl FnOnce() -> Result<T, PluginError>) -> Result<T, PluginError> {
        host::begin(database)?;
        match f() {
            Ok(v) => {
                host::commit(database)?;
                Ok(v)
            }
            Err(e) => {
                let _ = host::rollback(database);
                Err(e)
            }
        }
    }

    impl Value {
        /// The value as text, the way a human would write it (`NULL` for null).
        pub fn to_text(&self) -> String {
            match self {
                Value::Null => "NULL".to_string(),
                Value::Integer(i) => i.to_string(),
                Value::Real(f) => f.to_string(),
                Value::Text(s) => s.clone(),
                Value::Blob(b) => format!("<{} bytes>", b.len()),
            }
        }

        /// The value as a number, if it is one (or text that parses as one).
        pub fn as_f64(&self) -> Option<f64> {
            match self {
                Value::Integer(i) => Some(*i as f64),
                Value::Real(f) => Some(*f),
                Value::Text(s) => s.trim().parse().ok(),
                _ => None,
            }
        }
    }
}
