//! One plugin's live instance within an invocation scope: a fresh store with the scope's limits,
//! instantiated on first use, every call under a deadline, and a trap turned into a typed
//! [`CallError`]. After a trap the instance is discarded and the next call starts a new one.

use std::sync::Arc;

use wasmtime::component::ResourceTableError;
use wasmtime::{Store, Trap};

use super::Plugin;
use super::bindings::worlds::{StrategyWorld, TargetWorld, VerifierWorld, World};
use super::bindings::{
    Change, Check, Decision, Description, LogLevel, Observation, Operation, Progress, RolloutInfo, Stage, UnitVersion,
    Verdict, WitPluginError,
};
use super::driver::DeadlineReached;
use super::epoch::deadline_ticks;
use super::error::CallError;
use super::grants::Grants;
use super::host_state::{Clock, HostState, LogRecord, SystemClock};
use super::limits::{Limits, MAX_RETURN_BYTES, MemoryLimitExceeded};
use super::state::PluginState;

/// What an invocation scope gives a plugin: its limits, its grants, its persisted state, the clock.
#[derive(Debug, Clone)]
pub struct Scope {
    pub limits: Limits,
    pub grants: Grants,
    pub state: PluginState,
    pub clock: Arc<dyn Clock>,
}

impl Default for Scope {
    fn default() -> Self {
        Scope {
            limits: Limits::default(),
            grants: Grants::default(),
            state: PluginState::default(),
            clock: Arc::new(SystemClock),
        }
    }
}

struct Live<W> {
    store: Store<HostState>,
    bindings: W,
}

/// A plugin instance of world `W` in one scope.
pub struct PluginInstance<W: World> {
    plugin: Arc<Plugin>,
    scope: Scope,
    live: Option<Live<W>>,
    logs: Vec<LogRecord>,
    logs_dropped: usize,
    /// Network destinations the host refused during the last call.
    refused: Vec<String>,
    /// A target's `observe` runs here: an instance of its own whose folders and databases are
    /// read-only, made at the first `observe` of a target granted anything writable. What a target
    /// reports must not change what it reports on: `plan` and `validate` observe before anything
    /// is decided, and every apply is read back through `observe`.
    reader: Option<Box<PluginInstance<W>>>,
}

pub type TargetInstance = PluginInstance<TargetWorld>;
pub type VerifierInstance = PluginInstance<VerifierWorld>;
pub type StrategyInstance = PluginInstance<StrategyWorld>;

impl<W: World> PluginInstance<W> {
    /// Nothing is instantiated until the first call.
    pub fn new(plugin: Arc<Plugin>, mut scope: Scope) -> Self {
        scope.grants.limit_to(plugin.kind);
        PluginInstance {
            plugin,
            scope,
            live: None,
            logs: Vec::new(),
            logs_dropped: 0,
            refused: Vec::new(),
            reader: None,
        }
    }

    pub fn plugin(&self) -> &Arc<Plugin> {
        &self.plugin
    }

    /// The plugin's state in this scope.
    pub fn state(&self) -> &PluginState {
        &self.scope.state
    }

    /// Log records of the last call, and how many were dropped past the per-call budget.
    pub fn last_logs(&self) -> (&[LogRecord], usize) {
        (&self.logs, self.logs_dropped)
    }

    fn fresh_store(&self, call: &'static str) -> Result<Store<HostState>, CallError> {
        let data = HostState::new(
            self.plugin.name.clone(),
            self.scope.limits.memory_bytes,
            self.scope.limits.call_timeout,
            self.scope.state.clone(),
            self.scope.clock.clone(),
            &self.scope.grants,
        )
        .map_err(|message| CallError::Instantiate { plugin: self.plugin.name.to_string(), call, message })?;
        let mut store = Store::new(&self.plugin.engine, data);
        store.limiter(|s| &mut s.limiter);
        Ok(store)
    }

    /// Runs one call under the scope's deadline and limits, and tells the runtime's call observer
    /// how long it took and which limit, if any, stopped it (`observe.rs`).
    fn call<R>(
        &mut self,
        call: &'static str,
        f: impl AsyncFnOnce(&W, &mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        // With no observer set, the call is not timed: that costs two clock reads per call.
        let Some(observer) = self.plugin.observer.get() else {
            return self.call_limited(call, f);
        };
        let started = std::time::Instant::now();
        let result = self.call_limited(call, f);
        observer.call_finished(&self.plugin.name, call, started.elapsed());
        if let Some(limit) = result.as_ref().err().and_then(CallError::limit) {
            observer.limit_hit(&self.plugin.name, call, limit);
        }
        result
    }

    /// Runs one call under the scope's deadline and limits: the epoch deadline stops Wasm code, the
    /// driver's stops a wait in the host (`driver.rs`).
    fn call_limited<R>(
        &mut self,
        call: &'static str,
        f: impl AsyncFnOnce(&W, &mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        let limit = self.scope.limits.call_timeout;
        let ticks = deadline_ticks(limit);
        if self.live.is_none() {
            let mut store = self.fresh_store(call)?;
            // Start functions run during instantiation: they get the same deadline.
            store.set_epoch_deadline(ticks);
            let bindings = self
                .plugin
                .driver
                .run(limit, W::instantiate(&self.plugin, &mut store))
                .unwrap_or_else(|reached| Err(reached.into()))
                .map_err(|e| match self.classify(call, e) {
                    CallError::Trap { plugin, call, message } => CallError::Instantiate { plugin, call, message },
                    other => other,
                })?;
            self.live = Some(Live { store, bindings });
        }
        let Some(live) = self.live.as_mut() else {
            unreachable!("instantiated just above");
        };
        live.store.data_mut().begin_call();
        live.store.set_epoch_deadline(ticks);
        let result = self
            .plugin
            .driver
            .run(limit, f(&live.bindings, &mut live.store))
            .unwrap_or_else(|reached| Err(reached.into()));
        let data = live.store.data_mut();
        for database in data.sql.end_call() {
            tracing::warn!(plugin = &*self.plugin.name, "{call} left a transaction open on {database}; rolled back");
        }
        self.refused = data.refusals.take();
        let refused =
            self.refused.iter().map(|line| LogRecord { level: LogLevel::Warn, message: line.clone(), fields: vec![] });
        data.logs.extend(refused);
        self.logs = std::mem::take(&mut data.logs);
        self.logs_dropped = data.logs_dropped;
        // Read only when it is needed: to explain a trap.
        let printed = if result.is_err() { data.stderr.take() } else { String::new() };
        result.map_err(|e| {
            // A trapped instance may not be entered again: start afresh next time.
            self.live = None;
            match self.classify(call, e) {
                CallError::Trap { plugin, call, message } if !printed.is_empty() => {
                    CallError::Trap { plugin, call, message: format!("{message}; the plugin printed: {printed}") }
                }
                other => other,
            }
        })
    }

    /// Refuses an answer larger than [`MAX_RETURN_BYTES`].
    fn bounded<R: AnswerSize>(&self, call: &'static str, value: R) -> Result<R, CallError> {
        let bytes = value.size();
        if bytes > MAX_RETURN_BYTES {
            self.plugin.observer.limit_hit(&self.plugin.name, call, "return size");
            return Err(CallError::OversizedReturn {
                plugin: self.plugin.name.to_string(),
                call,
                bytes,
                limit: MAX_RETURN_BYTES,
            });
        }
        Ok(value)
    }

    /// Runs a call whose WIT result is `result<R, plugin-error>`.
    fn call_fallible<R: AnswerSize>(
        &mut self,
        call: &'static str,
        f: impl AsyncFnOnce(&W, &mut Store<HostState>) -> wasmtime::Result<Result<R, WitPluginError>>,
    ) -> Result<R, CallError> {
        let result = self.call(call, f)?;
        let result = match result {
            Ok(v) => Ok(self.bounded(call, v)?),
            Err(e) => Err(self.bounded(call, e)?),
        };
        // A plugin's own message cannot know why the host refused a destination: add it.
        let message =
            |m: String| if self.refused.is_empty() { m } else { format!("{m} ({})", self.refused.join("; ")) };
        result.map_err(|e| CallError::Plugin {
            plugin: self.plugin.name.to_string(),
            call,
            kind: e.kind,
            message: message(e.message),
            retryable: e.retryable,
        })
    }

    /// The config's JSON Schema as the plugin describes it (`config-schema`); `None` for a plugin of
    /// contract 0.1.0, which has no such call.
    pub fn config_schema(&mut self) -> Result<Option<String>, CallError> {
        let schema = self.call("config-schema", async |b, s| b.config_schema(s).await)?;
        self.bounded("config-schema", schema)
    }

    /// Asks the plugin whether `config` is one it accepts (`validate-config`), touching nothing.
    /// `Ok(false)` for a plugin of contract 0.1.0, which cannot be asked: its config is checked at
    /// its first call.
    pub fn validate_config(&mut self, config: &str) -> Result<bool, CallError> {
        let answer = self.call("validate-config", async |b, s| b.validate_config(s, config).await)?;
        match answer {
            None => Ok(false),
            Some(Ok(())) => Ok(true),
            Some(Err(e)) => {
                let e = self.bounded("validate-config", e)?;
                Err(CallError::Plugin {
                    plugin: self.plugin.name.to_string(),
                    call: "validate-config",
                    kind: e.kind,
                    message: e.message,
                    retryable: e.retryable,
                })
            }
        }
    }

    fn classify(&self, call: &'static str, e: wasmtime::Error) -> CallError {
        let plugin = self.plugin.name.to_string();
        if e.chain().any(|c| c.downcast_ref::<MemoryLimitExceeded>().is_some()) {
            return CallError::MemoryLimit { plugin, call, limit_bytes: self.scope.limits.memory_bytes };
        }
        let full = |c: &(dyn std::error::Error + 'static)| {
            matches!(c.downcast_ref::<ResourceTableError>(), Some(ResourceTableError::Full))
        };
        if e.chain().any(full) {
            return CallError::ResourceLimit { plugin, call, limit: super::limits::MAX_HOST_RESOURCES };
        }
        if e.is::<DeadlineReached>() {
            return CallError::Timeout { plugin, call, limit: self.scope.limits.call_timeout };
        }
        match e.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => CallError::Timeout { plugin, call, limit: self.scope.limits.call_timeout },
            Some(Trap::StackOverflow) => CallError::StackOverflow { plugin, call },
            // The trap itself, not the wasm backtrace: one line a human can read.
            Some(trap) => CallError::Trap { plugin, call, message: trap.to_string() },
            None => CallError::Trap { plugin, call, message: e.root_cause().to_string().replace('\n', " ") },
        }
    }
}

impl TargetInstance {
    pub fn describe(&mut self) -> Result<Description, CallError> {
        let d = self.call("describe", async |b, s| b.describe(s).await)?;
        self.bounded("describe", d)
    }

    /// Asks the target what it runs now, in an instance whose grants only read (`reader`).
    pub fn observe(&mut self, config: &str, from: &str, to: &str) -> Result<Observation, CallError> {
        if !self.scope.grants.writes() {
            return self.call_fallible("observe", async |b, s| b.observe(s, config, from, to).await);
        }
        let reader = self.reader.get_or_insert_with(|| {
            let scope = Scope { grants: self.scope.grants.reading(), ..self.scope.clone() };
            Box::new(PluginInstance::new(self.plugin.clone(), scope))
        });
        let observed = reader.call_fallible("observe", async |b, s| b.observe(s, config, from, to).await);
        // The call's logs and refusals are this instance's to report, like any other call's.
        self.logs = std::mem::take(&mut reader.logs);
        self.logs_dropped = reader.logs_dropped;
        self.refused = std::mem::take(&mut reader.refused);
        observed
    }

    pub fn apply(&mut self, op: &Operation) -> Result<Change, CallError> {
        self.call_fallible("apply", async |b, s| b.apply(s, op).await)
    }

    pub fn rollback(&mut self, op: &Operation) -> Result<Change, CallError> {
        self.call_fallible("rollback", async |b, s| b.rollback(s, op).await)
    }

    pub fn finalize(&mut self, op: &Operation) -> Result<Change, CallError> {
        self.call_fallible("finalize", async |b, s| b.finalize(s, op).await)
    }
}

impl VerifierInstance {
    pub fn verify(&mut self, check: &Check, config: &str) -> Result<Verdict, CallError> {
        self.call_fallible("verify", async |b, s| b.verify(s, check, config).await)
    }
}

impl StrategyInstance {
    pub fn plan(&mut self, config: &str, rollout: &RolloutInfo) -> Result<Vec<Stage>, CallError> {
        self.call_fallible("plan", async |b, s| b.plan(s, config, rollout).await)
    }

    pub fn next(&mut self, config: &str, progress: &Progress) -> Result<Decision, CallError> {
        self.call_fallible("next", async |b, s| b.next(s, config, progress).await)
    }
}

/// The approximate size of an answer: the bytes of its strings and lists.
pub trait AnswerSize {
    fn size(&self) -> usize;
}

impl AnswerSize for String {
    fn size(&self) -> usize {
        self.len()
    }
}

impl<T: AnswerSize> AnswerSize for Vec<T> {
    fn size(&self) -> usize {
        self.iter().map(|x| x.size() + 8).sum()
    }
}

impl<T: AnswerSize> AnswerSize for Option<T> {
    fn size(&self) -> usize {
        self.as_ref().map_or(0, AnswerSize::size)
    }
}

impl AnswerSize for WitPluginError {
    fn size(&self) -> usize {
        self.message.len()
    }
}

impl AnswerSize for Verdict {
    fn size(&self) -> usize {
        self.reason.len() + self.measurements.iter().map(|m| m.name.len() + m.unit.size() + 8).sum::<usize>()
    }
}

impl AnswerSize for Stage {
    fn size(&self) -> usize {
        self.name.len() + self.units.size()
    }
}

impl AnswerSize for UnitVersion {
    fn size(&self) -> usize {
        self.unit.len() + self.version.size()
    }
}

impl AnswerSize for Change {
    fn size(&self) -> usize {
        self.message.len() + self.units.size()
    }
}

impl AnswerSize for Observation {
    fn size(&self) -> usize {
        self.units.size() + self.irreversible.size()
    }
}

impl AnswerSize for Description {
    fn size(&self) -> usize {
        self.name.len() + self.version.len() + self.summary.len() + self.capabilities.irreversible.size()
    }
}

impl AnswerSize for Decision {
    fn size(&self) -> usize {
        match self {
            Decision::Hold(s) | Decision::RollBack(s) => s.len(),
            Decision::Continue | Decision::ExtendBake(_) => 0,
        }
    }
}
