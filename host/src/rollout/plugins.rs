//! The plugin instances of one rollout: its target, its strategy and its verifiers, each in its own
//! scope with the limits its spec sets and the state the store kept for it.

use std::collections::BTreeMap;

use crate::runtime::{
    LoadError, PluginKind, PluginState, Runtime, Scope, StrategyInstance, TargetInstance, VerifierInstance,
};
use crate::spec::{PluginSpec, RolloutSpec};

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

pub struct RolloutPlugins {
    pub target: TargetInstance,
    pub target_config: String,
    pub strategy: StrategyInstance,
    pub strategy_config: String,
    pub verifiers: Vec<Verifier>,
}

impl RolloutPlugins {
    /// Loads every plugin of `spec`; `state` gives each its persisted entries by key.
    pub fn load(
        runtime: &Runtime,
        spec: &RolloutSpec,
        state: impl Fn(&str) -> BTreeMap<String, String>,
    ) -> Result<Self, LoadError> {
        let scope = |p: &PluginSpec, key: &str| Scope {
            limits: p.limits(),
            grants: spec.grants(p),
            state: PluginState::from_entries(state(key)),
            ..Scope::default()
        };
        let target = runtime.load(&spec.target.source(), PluginKind::Target)?;
        let strategy = runtime.load(&spec.strategy.source(), PluginKind::Strategy)?;
        let mut verifiers = Vec::new();
        for v in &spec.verifiers {
            let plugin = runtime.load(&v.source(), PluginKind::Verifier)?;
            let name = v.display_name();
            verifiers.push(Verifier {
                instance: VerifierInstance::new(plugin, scope(v, &verifier_key(&name))),
                config: v.config_json(),
                spec: v.clone(),
                name,
            });
        }
        Ok(RolloutPlugins {
            target: TargetInstance::new(target, scope(&spec.target, TARGET_KEY)),
            target_config: spec.target.config_json(),
            strategy: StrategyInstance::new(strategy, scope(&spec.strategy, STRATEGY_KEY)),
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
