//! Typed errors of the plugin runtime: refusing to load a plugin, and a plugin call that did not
//! produce a result. Every message names the plugin and, where there is one, the fix.

use std::path::PathBuf;
use std::time::Duration;

use super::PluginKind;
use super::bindings::ErrorKind;
use super::load_limits::OverLimit;

/// Why a plugin was refused at load time.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read plugin file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },

    #[error(
        "plugin {plugin}: sha256 mismatch: the spec expects {expected} but the file has {actual}; \
         if the file was updated on purpose, put the new digest in the spec (while developing the plugin, \
         `upshift run --dev` runs it as built)"
    )]
    DigestMismatch { plugin: String, expected: String, actual: String },

    #[error("plugin {plugin}: `sha256` {given:?} is not 64 hex digits")]
    BadDigest { plugin: String, given: String },

    #[error(
        "plugin {plugin}: no sha256 given; add `sha256 = \"{actual}\"` to the spec after checking the file is the one you mean"
    )]
    MissingDigest { plugin: String, actual: String },

    #[error(
        "plugin {plugin}: expected a WebAssembly component but the file is {found}; \
         build plugins with `cargo build --target wasm32-wasip2` and the upshift-sdk"
    )]
    NotAComponent { plugin: String, found: &'static str },

    #[error(
        "plugin {plugin}: refused before compiling it: at least {size} bytes, more than the limit of {limit} \
         bytes ({} MiB, MAX_COMPONENT_BYTES) on a plugin",
        limit >> 20
    )]
    TooLarge { plugin: String, size: u64, limit: u64 },

    #[error("plugin {plugin}: refused before compiling it: the component has {over}")]
    OverLimit { plugin: String, over: OverLimit },

    #[error("plugin {plugin}: the component is invalid: {message}")]
    Invalid { plugin: String, message: String },

    #[error("plugin {plugin}: expected a {expected} (a component exporting {expected_export}) but found {found}")]
    WrongKind { plugin: String, expected: PluginKind, expected_export: String, found: String },

    #[error("plugin {plugin}: it imports {import}, which this host does not provide or the spec does not grant")]
    UnsatisfiedImport { plugin: String, import: String },

    #[error("unknown built-in plugin {name:?}; built-in plugins are: {known}")]
    UnknownBuiltin { name: String, known: String },

    #[error("cannot start the plugin engine: {0}")]
    Engine(String),
}

/// Why a plugin call produced no result.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error(
        "plugin {plugin}: {call} was stopped after its {}s time limit; \
         if it is legitimately slow, raise `timeout_seconds` for this plugin in the spec",
        limit.as_secs_f64()
    )]
    Timeout { plugin: String, call: &'static str, limit: Duration },

    #[error(
        "plugin {plugin}: {call} was stopped for exceeding its memory limit of {} MiB (all its memories \
         and tables together); raise `memory_mib` for this plugin in the spec if it really needs more",
        limit_bytes >> 20
    )]
    MemoryLimit { plugin: String, call: &'static str, limit_bytes: usize },

    #[error(
        "plugin {plugin}: {call} returned {bytes} bytes, more than the {limit}-byte limit on answers; the answer was discarded"
    )]
    OversizedReturn { plugin: String, call: &'static str, bytes: usize, limit: usize },

    #[error(
        "plugin {plugin}: {call} was stopped for holding more than {limit} host resources at once \
         (open files, streams, requests); a plugin must close what it opens"
    )]
    ResourceLimit { plugin: String, call: &'static str, limit: usize },

    #[error("plugin {plugin}: {call} overflowed its stack (runaway recursion?)")]
    StackOverflow { plugin: String, call: &'static str },

    #[error("plugin {plugin}: {call} crashed: {message}")]
    Trap { plugin: String, call: &'static str, message: String },

    #[error("plugin {plugin}: could not be instantiated for {call}: {message}")]
    Instantiate { plugin: String, call: &'static str, message: String },

    #[error("plugin {plugin}: {call} returned an error ({kind}): {message}")]
    Plugin { plugin: String, call: &'static str, kind: ErrorKind, message: String, retryable: bool },

    /// The answer came back but is outside what the host accepts (see `rollout::bounds`).
    #[error("plugin {plugin}: the answer of {call} was refused: {message}")]
    Refused { plugin: String, call: &'static str, message: String },
}

impl CallError {
    /// Whether the plugin itself said a retry may help, and its kind allows it: `invalid-config`
    /// and `denied` never do (see [`CallError::not_retried`]). Traps and limit hits are never
    /// retryable.
    pub fn retryable(&self) -> bool {
        matches!(self, CallError::Plugin { retryable: true, kind, .. } if !kind.never_retryable())
    }

    /// Why calling again cannot succeed, when the plugin's error says so: its kind is
    /// `invalid-config` (the spec's config does not change during a rollout, whatever `retryable`
    /// claims) or `denied` (nor do its grants), or the plugin marked it not retryable. `None` for
    /// every other error: a retryable one, and the host's own (a deadline, a crash, a limit), which
    /// say nothing about the next attempt.
    pub fn not_retried(&self) -> Option<String> {
        match self {
            CallError::Plugin { kind, .. } if kind.never_retryable() => Some(kind.to_string()),
            CallError::Plugin { kind, retryable: false, .. } => {
                Some(format!("the plugin marked its {kind} error not retryable"))
            }
            _ => None,
        }
    }

    /// The limit that stopped the call, if a limit did.
    pub fn limit(&self) -> Option<&'static str> {
        match self {
            CallError::Timeout { .. } => Some("time"),
            CallError::MemoryLimit { .. } => Some("memory"),
            CallError::StackOverflow { .. } => Some("stack"),
            CallError::ResourceLimit { .. } => Some("resources"),
            CallError::OversizedReturn { .. } => Some("return size"),
            CallError::Refused { .. } => Some("answer bounds"),
            _ => None,
        }
    }
}

impl ErrorKind {
    /// Kinds no retry can help: the config is wrong, or a capability is not granted (the contract:
    /// `invalid-config` is never retried; `denied` means the spec does not grant what the plugin
    /// needs, and a rollout's spec does not change while it runs).
    pub fn never_retryable(self) -> bool {
        matches!(self, ErrorKind::InvalidConfig | ErrorKind::Denied)
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ErrorKind::InvalidConfig => "invalid-config",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Denied => "denied",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Internal => "internal",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plugin_error(kind: ErrorKind, retryable: bool) -> CallError {
        CallError::Plugin { plugin: "p".into(), call: "verify", kind, message: "m".into(), retryable }
    }

    #[test]
    fn invalid_config_and_denied_are_never_retried_whatever_the_plugin_claims() {
        for kind in [ErrorKind::InvalidConfig, ErrorKind::Denied] {
            for claimed in [true, false] {
                let e = plugin_error(kind, claimed);
                assert!(!e.retryable(), "{kind} retryable={claimed}");
                assert_eq!(e.not_retried(), Some(kind.to_string()));
            }
        }
    }

    #[test]
    fn other_kinds_follow_the_plugins_retryable() {
        for kind in [ErrorKind::Unavailable, ErrorKind::Conflict, ErrorKind::Internal] {
            assert!(plugin_error(kind, true).retryable());
            assert_eq!(plugin_error(kind, true).not_retried(), None);
            assert!(!plugin_error(kind, false).retryable());
            let why = plugin_error(kind, false).not_retried().unwrap();
            assert_eq!(why, format!("the plugin marked its {kind} error not retryable"));
        }
    }

    #[test]
    fn host_side_errors_say_nothing_about_the_next_attempt() {
        let e = CallError::Trap { plugin: "p".into(), call: "verify", message: "unreachable".into() };
        assert!(!e.retryable());
        assert_eq!(e.not_retried(), None);
    }
}
