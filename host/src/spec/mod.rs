//! The rollout spec: a TOML file naming the versions, the target, the strategy, the verifiers and
//! the failure policy. Unknown fields are errors; parse errors carry file, line and column;
//! relative paths resolve against the spec's own folder (the files it names are checked in
//! `files.rs`).

mod connections;
mod error;
mod files;
pub mod lines;
pub mod policy;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use connections::{ConnectionSpec, MAX_POSTGRES_DATABASE_NAME};
pub use error::SpecError;
pub use lines::{Role, SpecLines};
pub use policy::PolicySpec;

use crate::engine::{
    DEFAULT_MAX_BAKE_SECONDS, FailurePolicy, MAX_BAKE_SECONDS, MAX_VERIFICATION_ROUNDS, MIN_CONSECUTIVE_ERRORS,
    OnError, OnFail, OnInconclusive,
};
use crate::runtime::limits::{DEFAULT_CALL_TIMEOUT, DEFAULT_MEMORY_LIMIT, Limits, MAX_CALL_TIMEOUT, MAX_MEMORY_LIMIT};
use crate::runtime::{FileGrant, Grants, NetworkGrant, PluginSource, SqlConnection};

/// Longest rollout name; names appear in ids and on every line of output.
pub const MAX_NAME_LEN: usize = 64;

/// A parsed, validated rollout spec with every path made absolute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutSpec {
    /// Names the rollout; a new `run` of a spec whose rollout has not ended continues it.
    pub name: String,
    /// The version live now.
    pub from: String,
    /// The version to roll out; left out (empty) when `[policy.version]` chooses it, and filled in
    /// with the chosen version before the rollout is planned.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub target: PluginSpec,
    pub strategy: PluginSpec,
    #[serde(default)]
    pub verifiers: Vec<PluginSpec>,
    #[serde(default)]
    pub failure_policy: FailurePolicySpec,
    /// Databases plugins may be granted, by connection name.
    #[serde(default)]
    pub connections: BTreeMap<String, ConnectionSpec>,
    /// `[plan]`: what the host accepts from the strategy.
    #[serde(default, skip_serializing_if = "PlanSpec::is_default")]
    pub plan: PlanSpec,
    /// `[policy]`: version selection, windows, gates, concurrency (see `crate::policy`).
    #[serde(default, skip_serializing_if = "policy_is_empty")]
    pub policy: PolicySpec,
    /// The spec's folder, against which relative paths resolve; set when the spec is parsed (a value
    /// in the file is overwritten) and kept with the stored spec so a resumed rollout agrees.
    #[serde(default, rename = "_folder")]
    pub folder: PathBuf,
}

fn policy_is_empty(p: &PolicySpec) -> bool {
    *p == PolicySpec::default()
}

/// `[plan]`: bounds the spec sets on what its strategy may plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanSpec {
    /// The longest bake (and bake extension) the strategy may ask for (default one day).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bake_seconds: Option<u64>,
    /// Accept a plan that leaves units to `finalize` (which moves them unverified). Off by default:
    /// such a plan is refused, and `upshift plan` lists the units.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_unstaged_units: bool,
}

impl PlanSpec {
    fn is_default(&self) -> bool {
        *self == PlanSpec::default()
    }

    /// The longest bake the strategy may ask for.
    pub fn max_bake_seconds(&self) -> u64 {
        self.max_bake_seconds.unwrap_or(DEFAULT_MAX_BAKE_SECONDS)
    }
}

/// What a plugin is granted beyond the defaults (`grants.sql`, `grants.files`, `grants.env`,
/// `grants.network`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantsSpec {
    /// Connection names from `[connections]`.
    #[serde(default)]
    pub sql: Vec<String>,
    /// Folders, relative to the spec's folder; read-only unless given as `{ path = "...", write = true }`.
    #[serde(default)]
    pub files: Vec<FileGrantSpec>,
    /// Environment variables of the host, by name.
    #[serde(default)]
    pub env: Vec<String>,
    /// Network destinations.
    #[serde(default, skip_serializing_if = "NetworkSpec::is_empty")]
    pub network: NetworkSpec,
}

/// `grants.network`: where a plugin may connect. Nothing else is reachable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// TCP peers as `ip:port` (`wasi:sockets`).
    #[serde(default)]
    pub tcp: Vec<String>,
    /// HTTP(S) servers as `host:port` (`wasi:http`).
    #[serde(default)]
    pub http: Vec<String>,
}

impl NetworkSpec {
    fn is_empty(&self) -> bool {
        self.tcp.is_empty() && self.http.is_empty()
    }

    /// Checks every entry; the error names the entry and the expected form.
    fn validate(&self, who: &str) -> Result<(), String> {
        for t in &self.tcp {
            if t.parse::<std::net::SocketAddr>().is_err() {
                return Err(format!(
                    "{who}: grants.network.tcp entry {t:?} is not an address; write it as ip:port, e.g. \"127.0.0.1:9999\""
                ));
            }
        }
        for h in &self.http {
            let ok = h.rsplit_once(':').is_some_and(|(host, port)| {
                !host.is_empty() && !host.contains(['/', '@', ' ']) && port.parse::<u16>().is_ok_and(|p| p > 0)
            });
            if !ok {
                return Err(format!(
                    "{who}: grants.network.http entry {h:?} is not a server; write it as host:port without a scheme, e.g. \"127.0.0.1:9090\""
                ));
            }
        }
        Ok(())
    }

    fn grant(&self) -> NetworkGrant {
        NetworkGrant {
            tcp: self.tcp.iter().filter_map(|t| t.parse().ok()).collect(),
            http: self.http.iter().map(|h| h.to_ascii_lowercase()).collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FileGrantSpec {
    ReadOnly(PathBuf),
    Table {
        path: PathBuf,
        #[serde(default)]
        write: bool,
    },
}

impl FileGrantSpec {
    fn parts(&self) -> (&Path, bool) {
        match self {
            FileGrantSpec::ReadOnly(p) => (p, false),
            FileGrantSpec::Table { path, write } => (path, *write),
        }
    }
}

/// One plugin as a spec names it: a built-in (`plugin`) or a file pinned by its digest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginSpec {
    /// A built-in plugin's name (`upshift plugin list`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
    /// A component file; relative to the spec's folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// The file's expected sha256 (64 hex digits); required with `file` (`spec/files.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Given to the plugin as JSON.
    #[serde(default)]
    pub config: toml::Table,
    /// Seconds one call may take (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<f64>,
    /// Linear memory the instance may use (default 64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mib: Option<u32>,
    /// Verifiers only: the name shown in output and history (default: the plugin's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Verifiers only: verifications per stage (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// Verifiers only: seconds between verifications of a stage (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_seconds: Option<u64>,
    /// Capabilities granted to this plugin.
    #[serde(default)]
    pub grants: GrantsSpec,
}

/// What happens when verification fails, is inconclusive, or errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailurePolicySpec {
    #[serde(default)]
    pub on_fail: Option<OnFail>,
    #[serde(default)]
    pub on_inconclusive: Option<OnInconclusive>,
    #[serde(default)]
    pub on_error: Option<OnError>,
    #[serde(default)]
    pub max_inconclusive: Option<u32>,
    #[serde(default)]
    pub max_consecutive_errors: Option<u32>,
}

impl FailurePolicySpec {
    pub fn resolve(&self) -> FailurePolicy {
        let d = FailurePolicy::default();
        FailurePolicy {
            on_fail: self.on_fail.unwrap_or(d.on_fail),
            on_inconclusive: self.on_inconclusive.unwrap_or(d.on_inconclusive),
            on_error: self.on_error.unwrap_or(d.on_error),
            max_inconclusive: self.max_inconclusive.unwrap_or(d.max_inconclusive),
            max_consecutive_errors: self.max_consecutive_errors.unwrap_or(d.max_consecutive_errors),
        }
    }
}

impl RolloutSpec {
    /// Reads, parses and validates the spec at `path`.
    pub fn load(path: &Path) -> Result<Self, SpecError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| SpecError::Read { path: path.to_path_buf(), source })?;
        Self::parse(path, &text)
    }

    /// Parses and validates `text`, read from `path` (used for messages and relative paths).
    pub fn parse(path: &Path, text: &str) -> Result<Self, SpecError> {
        let mut spec: RolloutSpec = toml::from_str(text).map_err(|e| SpecError::parse(path, text, &e))?;
        // A spec named without a folder (`rollout.toml`) lives in the current one: made absolute
        // too, so a rollout resumed from elsewhere finds its files (`absolute("")` is an error).
        let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let folder = std::path::absolute(folder).unwrap_or_else(|_| folder.to_path_buf());
        spec.validate(path)?;
        let absolute = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = folder.join(&*p);
            }
        };
        for plugin in spec.plugins_mut() {
            if let Some(file) = plugin.file.as_mut() {
                absolute(file);
            }
        }
        for c in spec.connections.values_mut() {
            c.resolve(&folder);
        }
        spec.require_pins(path)?;
        spec.resolve_file_grants(&folder, path)?;
        spec.folder = folder;
        Ok(spec)
    }

    /// The grants of `plugin`, resolved against this spec's connections and folder.
    pub fn grants(&self, plugin: &PluginSpec) -> Grants {
        let folder = &self.folder;
        let files = plugin
            .grants
            .files
            .iter()
            .map(|g| {
                let (rel, write) = g.parts();
                FileGrant { host: folder.join(rel), guest: format!("/{}", rel.display()), write }
            })
            .collect();
        let sql = plugin
            .grants
            .sql
            .iter()
            .filter_map(|name| {
                self.connections.get(name).map(|c| SqlConnection {
                    name: name.clone(),
                    source: c.source(),
                    read_only: false,
                })
            })
            .collect();
        // A granted variable the host does not have is simply absent inside the sandbox.
        let env = plugin.grants.env.iter().filter_map(|n| std::env::var(n).ok().map(|v| (n.clone(), v))).collect();
        Grants { files, sql, env, network: plugin.grants.network.grant() }
    }

    /// The target, the strategy and every verifier.
    pub fn plugins(&self) -> impl Iterator<Item = &PluginSpec> {
        [&self.target, &self.strategy].into_iter().chain(self.verifiers.iter())
    }

    fn plugins_mut(&mut self) -> impl Iterator<Item = &mut PluginSpec> {
        [&mut self.target, &mut self.strategy].into_iter().chain(self.verifiers.iter_mut())
    }

    fn validate(&self, path: &Path) -> Result<(), SpecError> {
        let invalid = |message: String| SpecError::Invalid { path: path.to_path_buf(), message };
        let name_ok = !self.name.is_empty()
            && self.name.len() <= MAX_NAME_LEN
            && self.name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !name_ok {
            return Err(invalid(format!(
                "name {:?} must be 1 to {MAX_NAME_LEN} letters, digits, '-', '_' or '.'",
                self.name
            )));
        }
        if self.policy.chooses_version() {
            if self.from.trim().is_empty() {
                return Err(invalid("`from` must name the version live now".into()));
            }
            if !self.to.is_empty() {
                return Err(invalid(
                    "give either `to` or [policy.version] (which chooses `to` from its release index), not both".into(),
                ));
            }
        } else if self.from.trim().is_empty() || self.to.trim().is_empty() {
            return Err(invalid(
                "`from` and `to` must both name a version (or leave out `to` and add [policy.version])".into(),
            ));
        }
        if self.from == self.to {
            return Err(invalid(format!("`from` and `to` are both {:?}: there is nothing to upgrade", self.to)));
        }
        self.target.validate("target", false).map_err(invalid)?;
        self.strategy.validate("strategy", false).map_err(invalid)?;
        if let Some(max) = self.plan.max_bake_seconds
            && !(1..=MAX_BAKE_SECONDS).contains(&max)
        {
            return Err(invalid(format!("[plan] max_bake_seconds = {max} must be between 1 and {MAX_BAKE_SECONDS}")));
        }
        for (key, value) in [
            ("max_inconclusive", self.failure_policy.max_inconclusive),
            ("max_consecutive_errors", self.failure_policy.max_consecutive_errors),
        ] {
            if let Some(v) = value.filter(|v| *v > MAX_VERIFICATION_ROUNDS) {
                return Err(invalid(format!("[failure_policy] {key} = {v} must be at most {MAX_VERIFICATION_ROUNDS}")));
            }
        }
        if let Some(v) = self.failure_policy.max_consecutive_errors.filter(|v| *v < MIN_CONSECUTIVE_ERRORS) {
            return Err(invalid(format!(
                "[failure_policy] max_consecutive_errors = {v} must be between {MIN_CONSECUTIVE_ERRORS} and \
                 {MAX_VERIFICATION_ROUNDS}: it is the error in a row at which the policy acts (1: at the first)"
            )));
        }
        for (name, c) in &self.connections {
            c.validate(name).map_err(invalid)?;
        }
        for p in self.plugins() {
            p.grants.network.validate(&p.display_name()).map_err(invalid)?;
            for g in &p.grants.sql {
                if !self.connections.contains_key(g) {
                    let known: Vec<&str> = self.connections.keys().map(String::as_str).collect();
                    return Err(invalid(format!(
                        "{}: grants.sql names connection {g:?}, which is not declared; declared: [{}]",
                        p.display_name(),
                        known.join(", ")
                    )));
                }
            }
        }
        let verifier_names: Vec<String> = self.verifiers.iter().map(PluginSpec::display_name).collect();
        self.policy.validate(&verifier_names).map_err(invalid)?;
        let mut names = BTreeSet::new();
        for (i, v) in self.verifiers.iter().enumerate() {
            let role = format!("verifiers[{i}]");
            v.validate(&role, true).map_err(invalid)?;
            if let Some(n) = v.count.filter(|n| *n > MAX_VERIFICATION_ROUNDS) {
                return Err(invalid(format!("{role}: count = {n} must be at most {MAX_VERIFICATION_ROUNDS}")));
            }
            let max_bake = self.plan.max_bake_seconds();
            if let Some(s) = v.interval_seconds.filter(|s| *s > max_bake) {
                return Err(invalid(format!(
                    "{role}: interval_seconds = {s} is longer than the longest bake ({max_bake}s, [plan] max_bake_seconds)"
                )));
            }
            if !names.insert(v.display_name()) {
                return Err(invalid(format!(
                    "two verifiers are named {:?}; give one of them `name = \"...\"`",
                    v.display_name()
                )));
            }
        }
        Ok(())
    }

    /// The failure policy with defaults filled in.
    pub fn policy(&self) -> FailurePolicy {
        self.failure_policy.resolve()
    }
}

impl PluginSpec {
    fn validate(&self, role: &str, verifier: bool) -> Result<(), String> {
        match (&self.plugin, &self.file) {
            (Some(_), Some(_)) => return Err(format!("{role}: give either `plugin` (built-in) or `file`, not both")),
            (None, None) => {
                return Err(format!(
                    "{role}: name a plugin: `plugin = \"...\"` for a built-in (see `upshift plugin list`) or `file = \"...\"` with `sha256`"
                ));
            }
            (Some(_), None) if self.sha256.is_some() => {
                return Err(format!("{role}: `sha256` pins a `file`; built-in plugins need none"));
            }
            _ => {}
        }
        if let Some(t) = self.timeout_seconds
            && !(t > 0.0 && t <= MAX_CALL_TIMEOUT.as_secs_f64())
        {
            return Err(format!(
                "{role}: timeout_seconds = {t} must be above 0 and at most {}",
                MAX_CALL_TIMEOUT.as_secs()
            ));
        }
        if let Some(m) = self.memory_mib {
            let max = MAX_MEMORY_LIMIT >> 20;
            if m == 0 || m as usize > max {
                return Err(format!("{role}: memory_mib = {m} must be between 1 and {max}"));
            }
        }
        if !verifier && (self.name.is_some() || self.count.is_some() || self.interval_seconds.is_some()) {
            return Err(format!("{role}: `name`, `count` and `interval_seconds` apply to verifiers only"));
        }
        if self.count == Some(0) {
            return Err(format!("{role}: count must be at least 1"));
        }
        Ok(())
    }

    /// How the plugin is named in output: its `name`, else its built-in name, else its file name.
    pub fn display_name(&self) -> String {
        if let Some(n) = &self.name {
            return n.clone();
        }
        if let Some(p) = &self.plugin {
            return p.clone();
        }
        self.file
            .as_ref()
            .and_then(|f| f.file_stem())
            .map_or_else(|| "plugin".to_string(), |s| s.to_string_lossy().into_owned())
    }

    pub fn source(&self) -> PluginSource {
        match (&self.plugin, &self.file) {
            (Some(name), _) => PluginSource::Builtin(name.clone()),
            (None, Some(path)) => PluginSource::File { path: path.clone(), sha256: self.sha256.clone() },
            (None, None) => PluginSource::Builtin(String::new()),
        }
    }

    /// The plugin's config as the JSON string it receives.
    pub fn config_json(&self) -> String {
        serde_json::to_string(&self.config).unwrap_or_else(|_| "{}".into())
    }

    pub fn limits(&self) -> Limits {
        Limits {
            call_timeout: self.timeout_seconds.map_or(DEFAULT_CALL_TIMEOUT, Duration::from_secs_f64),
            memory_bytes: self.memory_mib.map_or(DEFAULT_MEMORY_LIMIT, |m| (m as usize) << 20),
        }
    }

    /// Verification rounds per stage and seconds between them.
    pub fn schedule(&self) -> (u32, u64) {
        (self.count.unwrap_or(1), self.interval_seconds.unwrap_or(0))
    }
}

#[cfg(test)]
mod tests;
