//! The sandboxed plugin runtime: one wasmtime engine per process, each plugin compiled once per
//! digest and kept ready to instantiate, a fresh store per invocation scope, and nothing granted
//! beyond the `upshift:plugin` imports and an empty WASI context.
//!
//! Loading refuses, with a message naming what was expected and what was found: a digest that does
//! not match the spec, a file that is not a component, a component of another plugin kind, a file or
//! a component past the load limits (`load_limits.rs`).

mod artifact;
pub mod bindings;
pub mod cache;
pub mod config_schema;
mod driver;
mod epoch;
mod error;
mod files;
mod folders;
pub mod grants;
mod host_state;
mod instance;
pub mod limits;
pub mod load_limits;
mod network;
pub mod observe;
pub(crate) mod sql;
mod state;
mod stderr;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use wasmtime::component::{Component, HasSelf, InstancePre, Linker, types::ComponentItem};
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

pub use artifact::{CAPABILITIES_SECTION, DeclareError, Declared, Digest, Format};
pub use bindings::{
    Capabilities, Change, Check, Contract, Decision, Description, ErrorKind, LogLevel, Measurement, Observation,
    Operation, Outcome, Progress, RolloutInfo, Stage, UnitVersion, Verdict,
};
pub use cache::CompiledCache;
pub use driver::IO_WORKER_THREADS;
pub use epoch::EPOCH_TICK;
pub use error::{CallError, LoadError};
pub use grants::{FileGrant, Grants, NetworkGrant, PostgresServer, SqlConnection, SqlDriver, SqlSource};
pub use host_state::{Clock, LogRecord, MAX_LOG_MESSAGE_BYTES, MAX_LOG_RECORDS_PER_CALL, SystemClock};
pub use instance::{PluginInstance, Scope, StrategyInstance, TargetInstance, VerifierInstance};
pub use limits::{Limits, MAX_HOST_RESOURCES};
pub use observe::CallObserver;
pub use sql::{
    MAX_OPEN_SQL_DATABASES, MAX_SQL_RESULT_BYTES, MAX_SQL_ROWS, MAX_SQL_STATEMENT_BYTES, POSTGRES_CANCEL_WAIT,
    SQL_BUSY_TIMEOUT, SQL_PROGRESS_OPS, ServerUrl, check_postgres_url,
};
pub use state::{MAX_STATE_BYTES, MAX_STATE_KEY_BYTES, MAX_STATE_VALUE_BYTES, PluginState, StateError};
pub use stderr::MAX_STDERR_BYTES;

use host_state::HostState;

/// Instance slots the pooling allocator keeps: how many plugin instances may be alive at once in
/// one process. A rollout keeps a few (target, strategy, verifiers) alive; 100 covers many
/// concurrent rollouts.
pub const POOL_INSTANCE_SLOTS: u32 = 100;

/// Written pages of a freed linear memory the pool restores in place rather than releasing them to
/// the kernel (`new_engine`): a Rust plugin's stack, data and first heap pages fit.
const MEMORY_KEEP_RESIDENT: usize = 2 << 20;

/// The same for a freed table.
const TABLE_KEEP_RESIDENT: usize = 64 << 10;

/// The three kinds of plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PluginKind {
    Target,
    Verifier,
    Strategy,
}

impl PluginKind {
    pub const ALL: [PluginKind; 3] = [PluginKind::Target, PluginKind::Verifier, PluginKind::Strategy];

    /// The interface a component of contract `contract` exports to be a plugin of this kind.
    pub fn export_name(self, contract: Contract) -> String {
        contract.interface(&self.to_string())
    }

    /// The WIT world a plugin of this kind and contract version is built against.
    pub fn world(self, contract: Contract) -> String {
        contract.interface(&format!("{self}-plugin"))
    }
}

impl std::fmt::Display for PluginKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PluginKind::Target => "target",
            PluginKind::Verifier => "verifier",
            PluginKind::Strategy => "strategy",
        })
    }
}

/// Where a plugin comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PluginSource {
    /// A first-party plugin embedded in this binary, by name (`canary`, `sql-migrator`...).
    Builtin(String),
    /// A component file, with the digest the spec expects it to have.
    File { path: PathBuf, sha256: Option<String> },
}

impl std::fmt::Display for PluginSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginSource::Builtin(name) => write!(f, "{name}"),
            PluginSource::File { path, .. } => write!(f, "{}", path.display()),
        }
    }
}

/// A first-party plugin compiled into this binary.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinPlugin {
    pub name: &'static str,
    pub bytes: &'static [u8],
}

/// A loaded plugin: compiled, checked, linked, ready to instantiate any number of times.
pub struct Plugin {
    /// How the plugin is named in messages: its built-in name or its path.
    pub name: Arc<str>,
    pub digest: Digest,
    pub kind: PluginKind,
    /// The contract version the component was built against; calls go to its bindings.
    pub contract: Contract,
    pub builtin: bool,
    /// The interfaces the component imports, as it names them.
    pub imports: Vec<String>,
    /// The capabilities the plugin declares it needs (built-in plugins included).
    pub declared: Declared,
    engine: Engine,
    driver: Arc<driver::Driver>,
    /// The runtime's call observer (`observe.rs`).
    observer: Arc<observe::ObserverSlot>,
    pre: InstancePre<HostState>,
    /// Where the exports of its kind's world are, found once (`bindings/worlds.rs`).
    exports: bindings::worlds::Exports,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.name)
            .field("digest", &self.digest)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// The process-wide plugin runtime.
pub struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    builtins: &'static [BuiltinPlugin],
    compiled: Mutex<HashMap<Digest, Component>>,
    /// Plugin files read and hashed (`files.rs`).
    files: files::Files,
    /// Plugins loaded, by source and kind: a load of the same built-in, or of a file whose digest is
    /// the same, gives the same plugin (compiled, checked, linked) without doing it again.
    loaded: Mutex<HashMap<(PluginSource, PluginKind), Arc<Plugin>>>,
    /// Compiled components kept on disk across processes (`cache.rs`), if configured.
    cache: Option<cache::CompiledCache>,
    /// How this runtime got each component it compiled (for `-v` logs, tests and benchmarks).
    stats: Mutex<CacheStats>,
    driver: Arc<driver::Driver>,
    observer: Arc<observe::ObserverSlot>,
}

/// How a runtime's components were obtained.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Loaded from the on-disk cache.
    pub hits: u32,
    /// Compiled (no cache, no entry, or an entry that was not usable).
    pub compiled: u32,
    /// Entries found but not used (damaged, incompatible, not trusted): compiled and written again.
    pub rejected: u32,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").finish_non_exhaustive()
    }
}

impl Runtime {
    /// A runtime that knows the first-party plugins embedded in this binary.
    pub fn new() -> Result<Self, LoadError> {
        Self::with_builtins(crate::builtin::PLUGINS)
    }

    pub fn with_builtins(builtins: &'static [BuiltinPlugin]) -> Result<Self, LoadError> {
        let engine = new_engine()?;
        let mut linker = Linker::new(&engine);
        // WASI is linked async so that a plugin waiting in the host (a socket, a stream, a timer) is
        // a future its call's deadline can drop (`driver.rs`); the upshift imports stay synchronous.
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| LoadError::Engine(format!("{e:#}")))?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
            .map_err(|e| LoadError::Engine(format!("{e:#}")))?;
        // The three worlds share the same host imports; linking them once serves all.
        bindings::target::TargetPlugin::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)
            .map_err(|e| LoadError::Engine(format!("{e:#}")))?;
        link_frozen_host_services(&mut linker).map_err(|e| LoadError::Engine(format!("{e:#}")))?;
        let driver = Arc::new(driver::Driver::start(&engine).map_err(|e| LoadError::Engine(e.to_string()))?);
        let observer = Arc::default();
        Ok(Runtime {
            engine,
            linker,
            builtins,
            compiled: Mutex::new(HashMap::new()),
            files: files::Files::default(),
            loaded: Mutex::new(HashMap::new()),
            cache: cache::configured(),
            stats: Mutex::default(),
            driver,
            observer,
        })
    }

    /// Reports every later call of every plugin this runtime loaded (before or after this) to
    /// `observer`, replacing the one set before; `None` stops reporting.
    pub fn set_call_observer(&self, observer: Option<Arc<dyn observe::CallObserver>>) {
        self.observer.set(observer);
    }

    /// Uses `cache` for compiled components (or none), instead of the process's configured one.
    pub fn with_cache(mut self, cache: Option<cache::CompiledCache>) -> Self {
        self.cache = cache;
        self
    }

    /// The engine every plugin of this runtime is compiled for.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The on-disk cache this runtime uses, if any.
    pub fn cache(&self) -> Option<&cache::CompiledCache> {
        self.cache.as_ref()
    }

    /// How this runtime's components were obtained so far.
    pub fn cache_stats(&self) -> CacheStats {
        *self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Names of the embedded first-party plugins.
    pub fn builtin_names(&self) -> Vec<&'static str> {
        self.builtins.iter().map(|b| b.name).collect()
    }

    /// Loads a plugin that must be of kind `expected`.
    pub fn load(&self, source: &PluginSource, expected: PluginKind) -> Result<Arc<Plugin>, LoadError> {
        let key = (source.clone(), expected);
        // A file is checked against its pin (through its remembered digest) before a plugin loaded
        // from it before is given again; a built-in never changes.
        let fresh = match source {
            PluginSource::Builtin(_) => None,
            PluginSource::File { path, sha256 } => {
                let read = self.files.digest(path)?;
                check_pin(path, sha256.as_deref(), &read.digest)?;
                Some(read)
            }
        };
        let known = self.loaded.lock().unwrap_or_else(|p| p.into_inner()).get(&key).cloned();
        if let Some(plugin) = known.filter(|p| fresh.as_ref().is_none_or(|f| f.digest == p.digest)) {
            return Ok(plugin);
        }
        let plugin = self.load_new(source, expected, fresh.and_then(|f| f.bytes))?;
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if loaded.len() >= MAX_LOADED {
            loaded.clear();
        }
        loaded.insert(key, plugin.clone());
        Ok(plugin)
    }

    /// The sha256 of the plugin file at `path` (remembered while the file is unchanged: `files.rs`).
    pub fn file_digest(&self, path: &std::path::Path) -> Result<Digest, LoadError> {
        Ok(self.files.digest(path)?.digest)
    }

    /// [`Runtime::load`] without the memo; `bytes` are the file's, if they were just read.
    fn load_new(
        &self,
        source: &PluginSource,
        expected: PluginKind,
        bytes: Option<Vec<u8>>,
    ) -> Result<Arc<Plugin>, LoadError> {
        let (name, bytes, builtin) = match (source, bytes) {
            (PluginSource::File { path, .. }, Some(bytes)) => (Arc::from(path.display().to_string()), bytes, false),
            _ => self.read(source)?,
        };
        let component = self.compile(&name, &bytes)?;
        let exports = export_names(&self.engine, &component);
        let found = kind_of(&exports);
        let contract = match found {
            Some((kind, contract)) if kind == expected => contract,
            _ => {
                return Err(LoadError::WrongKind {
                    plugin: name.to_string(),
                    expected,
                    expected_export: expected.export_name(Contract::CURRENT),
                    found: match found {
                        Some((kind, contract)) => format!("a {kind} (it exports {})", kind.export_name(contract)),
                        None if exports.is_empty() => "a component that exports nothing".to_string(),
                        None => format!("a component exporting only {}", exports.join(", ")),
                    },
                });
            }
        };
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::UnsatisfiedImport { plugin: name.to_string(), import: unsatisfied_import(&e) })?;
        Ok(Arc::new(Plugin {
            name,
            digest: Digest::of(&bytes),
            kind: expected,
            contract,
            builtin,
            imports: import_names(&self.engine, &component),
            declared: Declared::of(&bytes),
            engine: self.engine.clone(),
            driver: self.driver.clone(),
            observer: self.observer.clone(),
            exports: bindings::worlds::Exports::new(expected, contract, &pre),
            pre,
        }))
    }

    /// Reads a plugin's bytes and checks its digest against the spec.
    fn read(&self, source: &PluginSource) -> Result<(Arc<str>, Vec<u8>, bool), LoadError> {
        match source {
            PluginSource::Builtin(name) => {
                let plugin = self.builtins.iter().find(|b| b.name == name).ok_or_else(|| {
                    LoadError::UnknownBuiltin { name: name.clone(), known: self.builtin_names().join(", ") }
                })?;
                Ok((Arc::from(plugin.name), plugin.bytes.to_vec(), true))
            }
            PluginSource::File { path, sha256 } => {
                let name: Arc<str> = Arc::from(path.display().to_string());
                let bytes = read_plugin_file(path)?;
                check_pin(path, sha256.as_deref(), &Digest::of(&bytes))?;
                Ok((name, bytes, false))
            }
        }
    }

    /// Compiles a component, once per digest for the life of the process, after checking it against
    /// the load limits (`load_limits.rs`): every path to the compiler (files, built-ins, `recognise`,
    /// `inspect`) goes through here.
    fn compile(&self, name: &str, bytes: &[u8]) -> Result<Component, LoadError> {
        let size = bytes.len() as u64;
        if size > load_limits::MAX_COMPONENT_BYTES {
            return Err(LoadError::TooLarge {
                plugin: name.to_string(),
                size,
                limit: load_limits::MAX_COMPONENT_BYTES,
            });
        }
        let format = Format::of(bytes);
        if format != Format::Component {
            return Err(LoadError::NotAComponent { plugin: name.to_string(), found: format.describe() });
        }
        let digest = Digest::of(bytes);
        let mut compiled = self.compiled.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = compiled.get(&digest) {
            return Ok(c.clone());
        }
        let mut stats = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        // An entry exists only for a component that passed these same checks in this same build
        // (the entry's compatibility key holds upshift's version).
        let missed = match self.cache.as_ref().map(|c| c.load(&self.engine, &digest)) {
            Some(Ok(component)) => {
                tracing::debug!("plugin {name}: loaded compiled from the cache");
                stats.hits += 1;
                compiled.insert(digest, component.clone());
                return Ok(component);
            }
            Some(Err(miss)) => Some(miss),
            None => None,
        };
        load_limits::check(bytes).map_err(|over| LoadError::OverLimit { plugin: name.to_string(), over })?;
        let component = Component::new(&self.engine, bytes)
            .map_err(|e| LoadError::Invalid { plugin: name.to_string(), message: format!("{e:#}") })?;
        stats.compiled += 1;
        if let (Some(cache), Some(miss)) = (&self.cache, missed) {
            if miss != cache::Miss::Absent {
                stats.rejected += 1;
                tracing::warn!("plugin {name}: its cache entry was not used ({miss}); compiled again");
            }
            match cache.store(&self.engine, &digest, &component) {
                Ok(path) => tracing::debug!("plugin {name}: compiled, kept in {}", path.display()),
                Err(e) => tracing::warn!("plugin {name}: {e}; it is compiled again next time"),
            }
        }
        compiled.insert(digest, component.clone());
        Ok(component)
    }

    /// Checks arbitrary bytes the way loading does (format, compilation, plugin kind), without a
    /// file or a spec: the entry point of the plugin-loading fuzz target. Never panics.
    pub fn recognise(&self, name: &str, bytes: &[u8]) -> Result<Option<PluginKind>, LoadError> {
        let component = self.compile(name, bytes)?;
        Ok(kind_of(&export_names(&self.engine, &component)).map(|(kind, _)| kind))
    }

    /// Everything `upshift plugin inspect` shows about a component file, without requiring a kind.
    pub fn inspect(&self, source: &PluginSource) -> Result<Inspection, LoadError> {
        let (name, bytes, _) = self.read(source)?;
        let component = self.compile(&name, &bytes)?;
        let exports = export_names(&self.engine, &component);
        let found = kind_of(&exports);
        let invalid = |e: CallError| LoadError::Invalid { plugin: name.to_string(), message: e.to_string() };
        let (mut description, mut config_schema) = (None, None);
        match found {
            Some((PluginKind::Target, _)) => {
                let mut instance = TargetInstance::new(self.load(source, PluginKind::Target)?, Scope::default());
                description = Some(instance.describe().map_err(invalid)?);
                config_schema = instance.config_schema().map_err(invalid)?;
            }
            Some((PluginKind::Verifier, _)) => {
                let mut instance = VerifierInstance::new(self.load(source, PluginKind::Verifier)?, Scope::default());
                config_schema = instance.config_schema().map_err(invalid)?;
            }
            Some((PluginKind::Strategy, _)) => {
                let mut instance = StrategyInstance::new(self.load(source, PluginKind::Strategy)?, Scope::default());
                config_schema = instance.config_schema().map_err(invalid)?;
            }
            None => {}
        }
        Ok(Inspection {
            name: name.to_string(),
            sha256: Digest::of(&bytes).to_hex(),
            size: bytes.len(),
            kind: found.map(|(kind, _)| kind),
            contract: found.map(|(_, contract)| contract),
            world: found.map(|(kind, contract)| kind.world(contract)),
            imports: import_names(&self.engine, &component),
            exports,
            description,
            config_schema,
            declared: Declared::of(&bytes),
        })
    }
}

/// Refuses a file whose digest is not the spec's pin (`given`, if any).
fn check_pin(path: &Path, given: Option<&str>, actual: &Digest) -> Result<(), LoadError> {
    let Some(given) = given else { return Ok(()) };
    let plugin = || path.display().to_string();
    let expected =
        Digest::parse(given).ok_or_else(|| LoadError::BadDigest { plugin: plugin(), given: given.to_string() })?;
    if expected != *actual {
        return Err(LoadError::DigestMismatch {
            plugin: plugin(),
            expected: expected.to_hex(),
            actual: actual.to_hex(),
        });
    }
    Ok(())
}

/// The most plugins a runtime keeps loaded (one with more forgets them all and starts again).
const MAX_LOADED: usize = 1024;

/// Reads a plugin file, refusing one past [`load_limits::MAX_COMPONENT_BYTES`] before reading it
/// whole. Everything that reads a plugin file (loading, the signature check, `upshift plugin sign`
/// and `verify`) goes through here.
pub fn read_plugin_file(path: &Path) -> Result<Vec<u8>, LoadError> {
    load_limits::read_bounded(path, load_limits::MAX_COMPONENT_BYTES).map_err(|e| match e {
        load_limits::ReadError::Io(source) => LoadError::Read { path: path.to_path_buf(), source },
        load_limits::ReadError::TooLarge { size, limit } => {
            LoadError::TooLarge { plugin: path.display().to_string(), size, limit }
        }
    })
}

/// What `upshift plugin inspect` reports.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// The file's path, or the built-in plugin's name.
    pub name: String,
    pub sha256: String,
    pub size: usize,
    pub kind: Option<PluginKind>,
    /// The contract version the component was built against.
    pub contract: Option<Contract>,
    pub world: Option<String>,
    pub imports: Vec<String>,
    pub exports: Vec<String>,
    pub description: Option<Description>,
    /// The config's JSON Schema as the plugin gives it (`config-schema`, contract 0.2.0 on); `None`
    /// for a 0.1.0 plugin, `Some("")` when the plugin does not describe its config.
    pub config_schema: Option<String>,
    pub declared: Declared,
}

fn new_engine() -> Result<Engine, LoadError> {
    let mut config = base_config();
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(POOL_INSTANCE_SLOTS)
        .total_core_instances(POOL_INSTANCE_SLOTS * limits::MAX_INSTANCES as u32 / 4)
        .total_memories(POOL_INSTANCE_SLOTS * 2)
        .total_tables(POOL_INSTANCE_SLOTS * 4)
        .max_memories_per_component(limits::MAX_MEMORIES as u32)
        .max_tables_per_component(limits::MAX_TABLES as u32)
        .table_elements(limits::MAX_TABLE_ELEMENTS)
        .max_memory_size(limits::MAX_MEMORY_LIMIT);
    // A freed slot must be reset before another instance gets it. By default every page the last
    // instance touched is handed back to the kernel and faulted in again by the next one (most of
    // what instantiating cost). Where the kernel can report which pages were written (the
    // `PAGEMAP_SCAN` ioctl, Linux 6.7 and later), only those are restored in place, from the
    // memory's image or to zeros: the slot is as pristine as after a `madvise`, without the faults.
    // Without the ioctl, keeping pages resident would mean restoring all of them on every free: the
    // default is kept there.
    if PoolingAllocationConfig::is_pagemap_scan_available() {
        pool.pagemap_scan(Enabled::Yes)
            .linear_memory_keep_resident(MEMORY_KEEP_RESIDENT)
            .table_keep_resident(TABLE_KEEP_RESIDENT);
    }
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    match Engine::new(&config) {
        Ok(engine) => Ok(engine),
        Err(e) => {
            // The pool reserves address space up front; where the system refuses that, the
            // on-demand allocator still works, a little slower to instantiate.
            tracing::warn!("pooling allocator unavailable ({e:#}); using on-demand allocation");
            Engine::new(&base_config()).map_err(|e| LoadError::Engine(format!("{e:#}")))
        }
    }
}

fn base_config() -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    // The limiter's accounting (`limits.rs`) relies on wasmtime reporting every failed growth after
    // approving it, which holds with 64 KiB pages and 32-bit indices: keep these proposals off.
    config.wasm_custom_page_sizes(false);
    config.wasm_memory64(false);
    config
}

fn export_names(engine: &Engine, component: &Component) -> Vec<String> {
    component.component_type().exports(engine).map(|(name, _)| name.to_string()).collect()
}

fn import_names(engine: &Engine, component: &Component) -> Vec<String> {
    component
        .component_type()
        .imports(engine)
        .map(|(name, item)| match item.ty {
            ComponentItem::ComponentInstance(_) => name.to_string(),
            _ => format!("{name} (not an instance)"),
        })
        .collect()
}

/// The kind of plugin a component is, and the contract version it was built against: the first
/// kind's interface it exports, of the newest version this host knows.
fn kind_of(exports: &[String]) -> Option<(PluginKind, Contract)> {
    Contract::ALL.into_iter().rev().find_map(|contract| {
        PluginKind::ALL
            .into_iter()
            .find(|k| exports.iter().any(|e| *e == k.export_name(contract)))
            .map(|kind| (kind, contract))
    })
}

/// Links the host services under the names of every older contract version, so plugins built
/// against it keep running: their interfaces did not change, only their version.
fn link_frozen_host_services(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    use bindings::target::upshift::plugin::{clock, log, sql, state};
    for contract in Contract::ALL.into_iter().filter(|c| *c != Contract::CURRENT) {
        let name = |interface: &str| contract.interface(interface);
        // `types` declares types only: an empty instance satisfies its import.
        linker.instance(&name("types"))?;
        log::add_to_linker_instance::<HostState, HasSelf<HostState>>(&mut linker.instance(&name("log"))?, |s| s)?;
        clock::add_to_linker_instance::<HostState, HasSelf<HostState>>(&mut linker.instance(&name("clock"))?, |s| s)?;
        state::add_to_linker_instance::<HostState, HasSelf<HostState>>(&mut linker.instance(&name("state"))?, |s| s)?;
        sql::add_to_linker_instance::<HostState, HasSelf<HostState>>(&mut linker.instance(&name("sql"))?, |s| s)?;
    }
    Ok(())
}

/// The first line of a linker error, which names the missing import.
fn unsatisfied_import(e: &wasmtime::Error) -> String {
    let text = format!("{e:#}");
    text.lines().next().unwrap_or_default().to_string()
}
