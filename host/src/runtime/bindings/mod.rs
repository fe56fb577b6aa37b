//! Host bindings generated from the contract's WIT, one module per contract version the host runs.
//!
//! - The current contract, `upshift:plugin@0.2.0` (`wit/`), is generated here: one module per plugin
//!   world, sharing the host-services interfaces generated in [`target`]. Its types are the ones the
//!   rest of the host uses.
//! - The frozen `0.1.0` contract (`wit/v0.1.0/`) is generated in [`v0_1`], reusing this version's
//!   shared types and host services (they did not change), with conversions for the records its
//!   exports define.
//! - [`worlds`] picks the bindings that match the version a component was built against.
//!
//! Calls into a plugin are async (so that the call's deadline can cancel a plugin waiting in the
//! host, see `driver.rs`); the host services it imports are plain synchronous functions.

pub mod v0_1;
pub mod worlds;

/// Bindings of one plugin world whose host services (and shared types) are those generated in
/// [`target`]: every world of every version links the same host functions.
macro_rules! world_sharing_host_services {
    ($path:literal, $world:literal) => {
        wasmtime::component::bindgen!({
            path: $path,
            world: $world,
            exports: { default: async },
            with: {
                "upshift:plugin/types": crate::runtime::bindings::target::upshift::plugin::types,
                "upshift:plugin/log": crate::runtime::bindings::target::upshift::plugin::log,
                "upshift:plugin/clock": crate::runtime::bindings::target::upshift::plugin::clock,
                "upshift:plugin/state": crate::runtime::bindings::target::upshift::plugin::state,
                "upshift:plugin/sql": crate::runtime::bindings::target::upshift::plugin::sql,
            },
        });
    };
}
pub(crate) use world_sharing_host_services;

pub mod target {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "upshift:plugin/target-plugin@0.2.0",
        exports: { default: async },
    });
}

pub mod verifier {
    super::world_sharing_host_services!("../wit", "upshift:plugin/verifier-plugin@0.2.0");
}

pub mod strategy {
    super::world_sharing_host_services!("../wit", "upshift:plugin/strategy-plugin@0.2.0");
}

pub use strategy::exports::upshift::plugin::strategy::{Decision, Progress};
pub use target::exports::upshift::plugin::target::{
    Capabilities, Change, Description, Observation, Operation, UnitVersion,
};
pub use target::upshift::plugin::log::Level as LogLevel;
/// The shared contract types, named once for the rest of the host.
pub use target::upshift::plugin::types::{
    ErrorKind, Measurement, Outcome, PluginError as WitPluginError, RolloutInfo, Stage, Verdict,
};
pub use verifier::exports::upshift::plugin::verifier::Check;

/// A version of the plugin contract this host runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Contract {
    /// `upshift:plugin@0.1.0`: no `config` interface; a config is checked at the plugin's first call.
    #[serde(rename = "0.1.0")]
    V0_1,
    /// `upshift:plugin@0.2.0`: adds `config` (`config-schema`, `validate-config`) to every world.
    #[serde(rename = "0.2.0")]
    V0_2,
}

impl Contract {
    /// Every version this host runs, oldest first.
    pub const ALL: [Contract; 2] = [Contract::V0_1, Contract::V0_2];
    /// The version the SDK builds and `wit/` holds.
    pub const CURRENT: Contract = Contract::V0_2;

    pub fn version(self) -> &'static str {
        match self {
            Contract::V0_1 => "0.1.0",
            Contract::V0_2 => "0.2.0",
        }
    }

    /// `upshift:plugin/NAME@VERSION`: how a component names an interface of this version.
    pub fn interface(self, name: &str) -> String {
        format!("upshift:plugin/{name}@{}", self.version())
    }

    /// Whether components of this version export `config` (`validate-config`, `config-schema`).
    pub fn checks_config(self) -> bool {
        self >= Contract::V0_2
    }
}

impl std::fmt::Display for Contract {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "upshift:plugin@{}", self.version())
    }
}
