//! Host bindings generated from `wit/`: one module per plugin world, sharing the host-services
//! interfaces generated in [`target`]. Calls into a plugin are async (so that the call's deadline can
//! cancel a plugin waiting in the host, see `driver.rs`); the host services it imports are plain
//! synchronous functions.

pub mod target {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "upshift:plugin/target-plugin@0.1.0",
        exports: { default: async },
    });
}

pub mod verifier {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "upshift:plugin/verifier-plugin@0.1.0",
        exports: { default: async },
        with: {
            "upshift:plugin/types": super::target::upshift::plugin::types,
            "upshift:plugin/log": super::target::upshift::plugin::log,
            "upshift:plugin/clock": super::target::upshift::plugin::clock,
            "upshift:plugin/state": super::target::upshift::plugin::state,
            "upshift:plugin/sql": super::target::upshift::plugin::sql,
        },
    });
}

pub mod strategy {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "upshift:plugin/strategy-plugin@0.1.0",
        exports: { default: async },
        with: {
            "upshift:plugin/types": super::target::upshift::plugin::types,
            "upshift:plugin/log": super::target::upshift::plugin::log,
            "upshift:plugin/clock": super::target::upshift::plugin::clock,
            "upshift:plugin/state": super::target::upshift::plugin::state,
            "upshift:plugin/sql": super::target::upshift::plugin::sql,
        },
    });
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

/// The interface names a component exports to be a plugin of each kind.
pub const TARGET_EXPORT: &str = "upshift:plugin/target@0.1.0";
pub const VERIFIER_EXPORT: &str = "upshift:plugin/verifier@0.1.0";
pub const STRATEGY_EXPORT: &str = "upshift:plugin/strategy@0.1.0";
