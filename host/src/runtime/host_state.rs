//! What a store holds for one plugin instance, and the host side of the imports every plugin gets:
//! `log`, `clock` and `state`. WASI starts from an empty context (no files, no network, no env)
//! and gets only the store's grants; `wasi:http` goes out through the store's [`HttpGate`].

use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::bindings::target::upshift::plugin::sql::{Dialect, Rows, Value};
use super::bindings::target::upshift::plugin::{clock, log, sql, state, types};
use super::bindings::{ErrorKind, LogLevel, WitPluginError};
use super::folders::open_granted;
use super::grants::Grants;
use super::limits::Limiter;
use super::network::{HttpGate, Refusals, socket_check};
use super::sql::SqlHost;
use super::state::PluginState;
use super::stderr::StderrCapture;

/// Log records one call may emit; past it the rest are counted and dropped, so a chatty or hostile
/// plugin cannot flood the host's log or the audit trail.
pub const MAX_LOG_RECORDS_PER_CALL: usize = 100;
/// Longest message kept from one log record; longer ones are cut.
pub const MAX_LOG_MESSAGE_BYTES: usize = 4 << 10;

/// A source of the current time, so that tests can run plugins on a simulated clock.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now_millis(&self) -> u64;
}

/// The system's wall clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// One log record a plugin emitted.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    pub level: LogLevel,
    pub message: String,
    pub fields: Vec<(String, String)>,
}

/// The data of one plugin store.
pub struct HostState {
    pub(crate) plugin: Arc<str>,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    http_gate: HttpGate,
    /// Network destinations refused during the current call.
    pub(crate) refusals: Refusals,
    /// What the plugin printed to stderr during the current call.
    pub(crate) stderr: StderrCapture,
    table: ResourceTable,
    pub(crate) limiter: Limiter,
    pub(crate) state: PluginState,
    pub(crate) sql: SqlHost,
    clock: Arc<dyn Clock>,
    /// Records emitted during the current call.
    pub(crate) logs: Vec<LogRecord>,
    /// Records dropped during the current call because of [`MAX_LOG_RECORDS_PER_CALL`].
    pub(crate) logs_dropped: usize,
}

impl HostState {
    /// The store data for `plugin`: WASI with only the granted folders preopened and the granted
    /// variables set (no arguments, stdio closed or discarded), TCP only to granted peers, HTTP only
    /// to granted authorities with network waits cut to `timeout`, and `sql` answering only for the
    /// granted connections. Fails when a granted folder cannot be opened.
    pub fn new(
        plugin: Arc<str>,
        memory_bytes: usize,
        timeout: Duration,
        state: PluginState,
        clock: Arc<dyn Clock>,
        grants: &Grants,
    ) -> Result<Self, String> {
        let refusals = Refusals::default();
        let network = Arc::new(grants.network.clone());
        let stderr = StderrCapture::default();
        let mut wasi = WasiCtx::builder();
        wasi.stderr(stderr.clone());
        // TCP is on so that every connect reaches the address check, which refuses what is not granted.
        wasi.allow_tcp(true).allow_udp(false).allow_ip_name_lookup(false).socket_addr_check(socket_check(
            plugin.clone(),
            network.clone(),
            refusals.clone(),
        ));
        for (name, value) in &grants.env {
            wasi.env(name, value);
        }
        for f in &grants.files {
            let perms = if f.write { FsPerms::ReadWrite } else { FsPerms::ReadOnly };
            let refused = |e: &dyn std::fmt::Display| format!("cannot open granted folder {}: {e}", f.host.display());
            // Opened through its descriptor: no symlink swapped in since the spec was checked is followed.
            let open = open_granted(&f.host, &f.guest).map_err(|e| refused(&e))?;
            wasi.preopened_dir(open.path(), &f.guest, perms).map_err(|e| refused(&e))?;
        }
        Ok(HostState {
            sql: SqlHost::new(plugin.clone(), Arc::new(grants.sql.clone()), timeout, memory_bytes),
            http_gate: HttpGate { plugin: plugin.clone(), grant: network, refusals: refusals.clone(), timeout },
            refusals,
            stderr,
            plugin,
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            table: resource_table(),
            limiter: Limiter::new(memory_bytes),
            state,
            clock,
            logs: Vec::new(),
            logs_dropped: 0,
        })
    }

    /// Clears the per-call log buffer before a call and starts the call's SQL deadline.
    pub(crate) fn begin_call(&mut self) {
        self.sql.begin_call();
        self.logs.clear();
        self.logs_dropped = 0;
        self.stderr.clear();
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.http_gate }
    }
}

impl types::Host for HostState {}

impl log::Host for HostState {
    fn emit(&mut self, level: LogLevel, message: String, fields: Vec<log::Field>) {
        if self.logs.len() >= MAX_LOG_RECORDS_PER_CALL {
            self.logs_dropped += 1;
            return;
        }
        let message = truncate(message, MAX_LOG_MESSAGE_BYTES);
        let fields: Vec<(String, String)> =
            fields.into_iter().take(16).map(|f| (truncate(f.key, 64), truncate(f.value, 256))).collect();
        // The record is kept as the plugin wrote it; the log line shows it escaped (crate::text).
        let shown = crate::text::terminal(&message, crate::text::MAX_LINE);
        let shown_fields = format!("{fields:?}");
        let shown_fields = crate::text::terminal(&shown_fields, crate::text::MAX_LINE);
        let plugin = crate::text::terminal(&self.plugin, crate::text::MAX_NAME);
        match level {
            LogLevel::Trace => tracing::trace!(plugin = %plugin, fields = %shown_fields, "{shown}"),
            LogLevel::Debug => tracing::debug!(plugin = %plugin, fields = %shown_fields, "{shown}"),
            LogLevel::Info => tracing::info!(plugin = %plugin, fields = %shown_fields, "{shown}"),
            LogLevel::Warn => tracing::warn!(plugin = %plugin, fields = %shown_fields, "{shown}"),
            LogLevel::Error => tracing::error!(plugin = %plugin, fields = %shown_fields, "{shown}"),
        }
        self.logs.push(LogRecord { level, message, fields });
    }
}

impl clock::Host for HostState {
    fn now_millis(&mut self) -> u64 {
        self.clock.now_millis()
    }
}

impl state::Host for HostState {
    fn get(&mut self, key: String) -> Option<String> {
        self.state.get(&key)
    }

    fn set(&mut self, key: String, value: String) -> Result<(), WitPluginError> {
        self.state.set(key, value).map_err(|e| WitPluginError {
            kind: ErrorKind::Denied,
            message: e.to_string(),
            retryable: false,
        })
    }

    fn remove(&mut self, key: String) {
        self.state.remove(&key);
    }

    fn keys(&mut self) -> Vec<String> {
        self.state.keys()
    }
}

impl sql::Host for HostState {
    fn databases(&mut self, connection: String) -> Result<Vec<String>, WitPluginError> {
        self.sql.databases(&connection)
    }

    fn dialect_of(&mut self, database: String) -> Result<Dialect, WitPluginError> {
        self.sql.dialect(&database)
    }

    fn execute(&mut self, database: String, statement: String, params: Vec<Value>) -> Result<u64, WitPluginError> {
        self.sql.execute(&database, &statement, params)
    }

    fn execute_batch(&mut self, database: String, script: String) -> Result<(), WitPluginError> {
        self.sql.execute_batch(&database, &script)
    }

    fn query(&mut self, database: String, statement: String, params: Vec<Value>) -> Result<Rows, WitPluginError> {
        self.sql.query(&database, &statement, params)
    }

    fn begin(&mut self, database: String) -> Result<(), WitPluginError> {
        self.sql.begin(&database)
    }

    fn commit(&mut self, database: String) -> Result<(), WitPluginError> {
        self.sql.commit(&database)
    }

    fn rollback(&mut self, database: String) -> Result<(), WitPluginError> {
        self.sql.rollback(&database)
    }
}

/// Cuts `s` to at most `max` bytes on a character boundary, marking the cut with `…`.
pub(super) fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

/// A resource table that holds at most [`MAX_HOST_RESOURCES`](super::limits::MAX_HOST_RESOURCES).
fn resource_table() -> ResourceTable {
    let mut table = ResourceTable::new();
    table.set_max_capacity(super::limits::MAX_HOST_RESOURCES);
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("héllo".into(), 2), "h…");
        assert_eq!(truncate("abc".into(), 3), "abc");
    }
}
