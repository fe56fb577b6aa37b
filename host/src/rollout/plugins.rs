//! The plugin instances of one rollout: its target, its strategy and its verifiers, each in its own
//! scope with the limits its spec sets and the state the store kept for it.

use std::collections::BTreeMap;

use crate::runtime::{
    LoadError, Plugin, PluginKind, PluginState, Runtime, Scope, StrategyInstance, TargetInstance, VerifierInstance,
};
use crate::spec::{PluginSpec, RolloutSpec};
use crate::trust::{self, TrustError, TrustPolicy};

/// Key of the target's state in the store.
pub const TARGET_KEY: &str = "target";
/// Key of the strategy's state in the store.
pub const STRATEGY_KEY: &str = "strategy";

/// Key of a verifier's state in the store.
pub fn verifier_key(name: &str) -> String {
    format!("verifier:{name}")
}

pub struct Verifier {
    pub name: String,
    pub spec: PluginSpec,
    pub config: String,
    pub instance: VerifierInstance,
}

impl Verifier {
    /// Asks for a verdict on `check`, within the host's bounds (`bounds::verdict`).
    pub fn verify(
        &mut self,
        check: &crate::runtime::Check,
    ) -> Result<crate::runtime::Verdict, crate::runtime::CallError> {
        let verdict = self.instance.verify(check, &self.config)?;
        super::bounds::verdict(verdict).map_err(|message| crate::runtime::CallError::Refused {
            plugin: self.instance.plugin().name.to_string(),
            call: "verify",
            message,
        })
    }
}

/// Why a rollout's plugins could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PluginsError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Trust(#[from] TrustError),
    /// A granted folder is not what a grant may be (`RolloutSpec::check_file_grants`), e.g. it
    /// became a symlink after the rollout was created.
    #[error("{0}")]
    Grant(String),
}

pub struct RolloutPlugins {
    /// Some plugin file was unsigned or untrusted and ran because of `--allow-unsigned`.
    pub allowed_unsigned: bool,
    /// Loaded for `upshift run --dev` (set by its caller, after [`crate::rollout::dev::repin`]);
    /// the plan of a rollout created with these plugins remembers it.
    pub dev: bool,
    /// What each plugin asked for, what the spec granted, and what was held back: logged at load
    /// time and recorded in the audit trail when the rollout is created.
    pub notes: Vec<String>,
    pub target: TargetInstance,
    pub target_config: String,
    pub strategy: StrategyInstance,
    pub strategy_config: String,
    pub verifiers: Vec<Verifier>,
}

impl RolloutPlugins {
    /// Loads every plugin of `spec`; `state` gives each its persisted entries by key. Plugin files
    /// must carry a signature by a key `trust` holds, unless `trust.allow_unsigned`.
    pub fn load(
        runtime: &Runtime,
        spec: &RolloutSpec,
        trust: &TrustPolicy,
        state: impl Fn(&str) -> BTreeMap<String, String>,
    ) -> Result<Self, PluginsError> {
        // Checked when the spec was parsed, and again here: a stored spec is not parsed again.
        spec.check_file_grants().map_err(PluginsError::Grant)?;
        let mut notes = Vec::new();
        let mut allowed_unsigned = false;
        for p in [&spec.target, &spec.strategy].into_iter().chain(&spec.verifiers) {
            let Some(path) = &p.file else { continue };
            // Built-in plugins are trusted by construction; files must prove where they come from.
            // The pin first: whether this is the file the spec means (a rebuild is refused by its
            // digest, not by a signature that no longer matches it).
            let actual = runtime.file_digest(path)?;
            if let Some(expected) = p.sha256.as_deref().and_then(crate::runtime::Digest::parse)
                && expected != actual
            {
                return Err(LoadError::DigestMismatch {
                    plugin: path.display().to_string(),
                    expected: expected.to_hex(),
                    actual: actual.to_hex(),
                }
                .into());
            }
            match trust::verify_digest(path, actual, &trust.keys) {
                Ok((key, name)) => {
                    notes.push(format!("plugin {} is signed by {key} ({name}), trusted", path.display()))
                }
                Err(e) if trust.allow_unsigned => {
                    allowed_unsigned = true;
                    let by = if trust.dev { "--dev" } else { "--allow-unsigned" };
                    notes.push(format!("{e} -- allowed by {by}"));
                }
                Err(e) => return Err(e.into()),
            }
        }
        let mut scope = |p: &PluginSpec, plugin: &Plugin, key: &str| {
            let (grants, said) = spec.grants(p).intersect(&plugin.declared, &plugin.name);
            for note in &said {
                // A note quotes what the plugin declared: its text, shown escaped.
                tracing::info!("{}", crate::text::terminal(note, crate::text::MAX_LINE));
            }
            notes.extend(said);
            Scope { limits: p.limits(), grants, state: PluginState::from_entries(state(key)), ..Scope::default() }
        };
        let target = runtime.load(&spec.target.source(), PluginKind::Target)?;
        let target_scope = scope(&spec.target, &target, TARGET_KEY);
        let strategy = runtime.load(&spec.strategy.source(), PluginKind::Strategy)?;
        let strategy_scope = scope(&spec.strategy, &strategy, STRATEGY_KEY);
        let mut verifiers = Vec::new();
        for v in &spec.verifiers {
            let plugin = runtime.load(&v.source(), PluginKind::Verifier)?;
            let name = v.display_name();
            let verifier_scope = scope(v, &plugin, &verifier_key(&name));
            verifiers.push(Verifier {
                instance: VerifierInstance::new(plugin, verifier_scope),
                config: v.config_json(),
                spec: v.clone(),
                name,
            });
        }
        Ok(RolloutPlugins {
            notes,
            allowed_unsigned,
            dev: false,
            target: TargetInstance::new(target, target_scope),
            target_config: spec.target.config_json(),
            strategy: StrategyInstance::new(strategy, strategy_scope),
            strategy_config: spec.strategy.config_json(),
            verifiers,
        })
    }

    /// Every plugin's state, by store key, for persisting.
    pub fn states(&self) -> Vec<(String, BTreeMap<String, String>)> {
        let mut all = vec![
            (TARGET_KEY.to_string(), self.target.state().snapshot()),
            (STRATEGY_KEY.to_string(), self.strategy.state().snapshot()),
        ];
        all.extend(self.verifiers.iter().map(|v| (verifier_key(&v.name), v.instance.state().snapshot())));
        all
    }
}
