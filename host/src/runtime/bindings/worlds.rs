//! The bindings of one live plugin instance, for the contract version its component was built
//! against: each call goes to that version's generated code, and a 0.1.0 answer is converted to the
//! current types (`v0_1.rs`). The rest of the host sees one set of types whatever the version.

use wasmtime::Store;
use wasmtime::component::{Instance, InstancePre};

use super::v0_1;
use super::{
    Change, Check, Contract, Decision, Description, Observation, Operation, Progress, RolloutInfo, Stage, Verdict,
    WitPluginError,
};
use crate::runtime::host_state::HostState;
use crate::runtime::{Plugin, PluginKind};

type Answer<T> = wasmtime::Result<Result<T, WitPluginError>>;

/// The generated bindings of one plugin world, instantiable from a loaded [`Plugin`].
pub trait World: Sized {
    fn instantiate(plugin: &Plugin, store: &mut Store<HostState>) -> impl Future<Output = wasmtime::Result<Self>>;

    /// `config-schema`, or `None` for a contract without it (0.1.0).
    fn config_schema(&self, store: &mut Store<HostState>) -> impl Future<Output = wasmtime::Result<Option<String>>>;

    /// `validate-config`, or `None` for a contract without it (0.1.0).
    fn validate_config(
        &self,
        store: &mut Store<HostState>,
        config: &str,
    ) -> impl Future<Output = wasmtime::Result<Option<Result<(), WitPluginError>>>>;
}

/// Where a plugin's exports are, found once when it is loaded rather than by name at every
/// instantiation; `None` when they could not be (the bindings then look them up, and fail, as they
/// would have).
pub enum Exports {
    Target(Option<TargetExports>),
    Verifier(Option<VerifierExports>),
    Strategy(Option<StrategyExports>),
}

impl Exports {
    pub fn new(kind: PluginKind, contract: Contract, pre: &InstancePre<HostState>) -> Self {
        match kind {
            PluginKind::Target => Exports::Target(TargetWorld::exports(contract, pre)),
            PluginKind::Verifier => Exports::Verifier(VerifierWorld::exports(contract, pre)),
            PluginKind::Strategy => Exports::Strategy(StrategyWorld::exports(contract, pre)),
        }
    }
}

macro_rules! world {
    ($name:ident, $exports_name:ident, $variant:ident, $current:ty, $current_indices:ty, $old:ty, $old_indices:ty, $exports:ident, $doc:literal) => {
        #[doc = $doc]
        pub enum $name {
            V0_2($current),
            V0_1($old),
        }

        /// Where this world's exports are in a component, by contract version.
        pub enum $exports_name {
            V0_2($current_indices),
            V0_1($old_indices),
        }

        impl $name {
            fn exports(contract: Contract, pre: &InstancePre<HostState>) -> Option<$exports_name> {
                match contract {
                    Contract::V0_2 => <$current_indices>::new(pre).ok().map($exports_name::V0_2),
                    Contract::V0_1 => <$old_indices>::new(pre).ok().map($exports_name::V0_1),
                }
            }
        }

        impl World for $name {
            async fn instantiate(plugin: &Plugin, store: &mut Store<HostState>) -> wasmtime::Result<Self> {
                let instance: Instance = plugin.pre.instantiate_async(&mut *store).await?;
                Ok(match (&plugin.exports, plugin.contract) {
                    (Exports::$variant(Some($exports_name::V0_2(found))), _) => {
                        $name::V0_2(found.load(&mut *store, &instance)?)
                    }
                    (Exports::$variant(Some($exports_name::V0_1(found))), _) => {
                        $name::V0_1(found.load(&mut *store, &instance)?)
                    }
                    (_, Contract::V0_2) => $name::V0_2(<$current>::new(&mut *store, &instance)?),
                    (_, Contract::V0_1) => $name::V0_1(<$old>::new(&mut *store, &instance)?),
                })
            }

            async fn config_schema(&self, store: &mut Store<HostState>) -> wasmtime::Result<Option<String>> {
                match self {
                    $name::V0_2(b) => Ok(Some(b.$exports().call_config_schema(store).await?)),
                    $name::V0_1(_) => Ok(None),
                }
            }

            async fn validate_config(
                &self,
                store: &mut Store<HostState>,
                config: &str,
            ) -> wasmtime::Result<Option<Result<(), WitPluginError>>> {
                match self {
                    $name::V0_2(b) => Ok(Some(b.$exports().call_validate_config(store, config).await?)),
                    $name::V0_1(_) => Ok(None),
                }
            }
        }
    };
}

world!(
    TargetWorld,
    TargetExports,
    Target,
    super::target::TargetPlugin,
    super::target::TargetPluginIndices,
    v0_1::target::TargetPlugin,
    v0_1::target::TargetPluginIndices,
    upshift_plugin_target,
    "A target's bindings, by contract version."
);
world!(
    VerifierWorld,
    VerifierExports,
    Verifier,
    super::verifier::VerifierPlugin,
    super::verifier::VerifierPluginIndices,
    v0_1::verifier::VerifierPlugin,
    v0_1::verifier::VerifierPluginIndices,
    upshift_plugin_verifier,
    "A verifier's bindings, by contract version."
);
world!(
    StrategyWorld,
    StrategyExports,
    Strategy,
    super::strategy::StrategyPlugin,
    super::strategy::StrategyPluginIndices,
    v0_1::strategy::StrategyPlugin,
    v0_1::strategy::StrategyPluginIndices,
    upshift_plugin_strategy,
    "A strategy's bindings, by contract version."
);

impl TargetWorld {
    pub async fn describe(&self, s: &mut Store<HostState>) -> wasmtime::Result<Description> {
        match self {
            TargetWorld::V0_2(b) => b.upshift_plugin_target().call_describe(s).await,
            TargetWorld::V0_1(b) => Ok(b.upshift_plugin_target().call_describe(s).await?.into()),
        }
    }

    pub async fn observe(&self, s: &mut Store<HostState>, config: &str, from: &str, to: &str) -> Answer<Observation> {
        match self {
            TargetWorld::V0_2(b) => b.upshift_plugin_target().call_observe(s, config, from, to).await,
            TargetWorld::V0_1(b) => {
                Ok(b.upshift_plugin_target().call_observe(s, config, from, to).await?.map(Into::into))
            }
        }
    }

    pub async fn apply(&self, s: &mut Store<HostState>, op: &Operation) -> Answer<Change> {
        match self {
            TargetWorld::V0_2(b) => b.upshift_plugin_target().call_apply(s, op).await,
            TargetWorld::V0_1(b) => {
                Ok(b.upshift_plugin_target().call_apply(s, &v0_1::operation(op)).await?.map(Into::into))
            }
        }
    }

    pub async fn rollback(&self, s: &mut Store<HostState>, op: &Operation) -> Answer<Change> {
        match self {
            TargetWorld::V0_2(b) => b.upshift_plugin_target().call_rollback(s, op).await,
            TargetWorld::V0_1(b) => {
                Ok(b.upshift_plugin_target().call_rollback(s, &v0_1::operation(op)).await?.map(Into::into))
            }
        }
    }

    pub async fn finalize(&self, s: &mut Store<HostState>, op: &Operation) -> Answer<Change> {
        match self {
            TargetWorld::V0_2(b) => b.upshift_plugin_target().call_finalize(s, op).await,
            TargetWorld::V0_1(b) => {
                Ok(b.upshift_plugin_target().call_finalize(s, &v0_1::operation(op)).await?.map(Into::into))
            }
        }
    }
}

impl VerifierWorld {
    pub async fn verify(&self, s: &mut Store<HostState>, check: &Check, config: &str) -> Answer<Verdict> {
        match self {
            VerifierWorld::V0_2(b) => b.upshift_plugin_verifier().call_verify(s, check, config).await,
            VerifierWorld::V0_1(b) => b.upshift_plugin_verifier().call_verify(s, &v0_1::check(check), config).await,
        }
    }
}

impl StrategyWorld {
    pub async fn plan(&self, s: &mut Store<HostState>, config: &str, rollout: &RolloutInfo) -> Answer<Vec<Stage>> {
        match self {
            StrategyWorld::V0_2(b) => b.upshift_plugin_strategy().call_plan(s, config, rollout).await,
            StrategyWorld::V0_1(b) => b.upshift_plugin_strategy().call_plan(s, config, rollout).await,
        }
    }

    pub async fn next(&self, s: &mut Store<HostState>, config: &str, progress: &Progress) -> Answer<Decision> {
        match self {
            StrategyWorld::V0_2(b) => b.upshift_plugin_strategy().call_next(s, config, progress).await,
            StrategyWorld::V0_1(b) => {
                Ok(b.upshift_plugin_strategy().call_next(s, config, &v0_1::progress(progress)).await?.map(Into::into))
            }
        }
    }
}
