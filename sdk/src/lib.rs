//! The upshift plugin SDK: implement one trait, call one export macro, build for `wasm32-wasip2`.
//!
//! ```ignore
//! use upshift_sdk::{Check, PluginError, Verdict, Verifier};
//!
//! #[derive(upshift_sdk::serde::Deserialize, upshift_sdk::JsonSchema)]
//! #[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
//! #[schemars(crate = "upshift_sdk::schemars")]
//! struct Config {
//!     /// Seconds of replication lag a replica may have.
//!     max_lag: f64,
//! }
//!
//! struct LagCheck;
//!
//! impl Verifier for LagCheck {
//!     type Config = Config;
//!     fn verify(check: Check, config: &Config) -> Result<Verdict, PluginError> {
//!         let lag = 0.5; // measure something real here
//!         let verdict = if lag <= config.max_lag { Verdict::pass("lag within budget") } else { Verdict::fail("lag over budget") };
//!         Ok(verdict.measure("lag", lag, "s"))
//!     }
//! }
//!
//! upshift_sdk::export_verifier!(LagCheck);
//! ```
//!
//! Plugin logic is plain Rust: call `LagCheck::verify(...)` from an ordinary `cargo test`.
//! The host functions ([`log`], [`clock`], [`state`]) fall back to in-process stand-ins when the
//! crate is compiled natively, so logic that uses them is testable without a Wasm runtime.

extern crate self as upshift_sdk;

#[doc(hidden)]
pub mod bindings;
mod config;
mod errors;
pub mod host;
pub mod http;
pub mod planning;
mod strategy;
mod target;
mod types;
mod verifier;

pub use config::{NoConfig, PluginConfig, config_schema, parse_config, validate_config, with_config};
pub use host::{clock, log, sql, state};
pub use strategy::{Decision, Progress, Strategy};
pub use target::{Capabilities, Change, Description, Observation, Operation, Target, UnitVersion};
pub use types::{ErrorKind, Measurement, Outcome, PluginError, RolloutInfo, Stage, Verdict};
pub use verifier::{Check, Verifier};

/// Re-exported so that a plugin crate needs no dependency but this one:
/// `#[derive(upshift_sdk::serde::Deserialize)] #[serde(crate = "upshift_sdk::serde")]`.
pub use schemars;
/// Derive it on a plugin's `Config`: `#[derive(upshift_sdk::serde::Deserialize, upshift_sdk::JsonSchema)]`.
pub use schemars::JsonSchema;
pub use serde;
pub use serde_json;

#[doc(hidden)]
pub use strategy::{dispatch_next as __private_dispatch_next, dispatch_plan as __private_dispatch_plan};
#[doc(hidden)]
pub use target::{
    dispatch_apply as __private_dispatch_apply, dispatch_finalize as __private_dispatch_finalize,
    dispatch_observe as __private_dispatch_observe, dispatch_rollback as __private_dispatch_rollback,
};
#[doc(hidden)]
pub use verifier::dispatch_verify as __private_dispatch_verify;

#[doc(hidden)]
pub mod __private {
    pub use wit_bindgen;

    /// Copies a string into a byte array at compile time (for the capabilities section).
    pub const fn to_array<const N: usize>(s: &str) -> [u8; N] {
        let bytes = s.as_bytes();
        let mut out = [0u8; N];
        let mut i = 0;
        while i < N {
            out[i] = bytes[i];
            i += 1;
        }
        out
    }
}

/// Declares the capabilities this plugin needs, so the host can give it exactly what it asks for
/// and the spec grants (and say so when either side is missing). Without a declaration a plugin
/// gets no grants at all.
///
/// ```ignore
/// upshift_sdk::capabilities!(sql, files);            // databases and granted folders
/// upshift_sdk::capabilities!(env = ["REGION"]);      // environment variables, by name
/// ```
///
/// Known capabilities: `sql`, `files`, `env = [..]`, `network`.
#[macro_export]
macro_rules! capabilities {
    ($($cap:ident $(= [$($value:literal),* $(,)?])?),* $(,)?) => {
        const __UPSHIFT_CAPABILITIES_TEXT: &str = concat!($(stringify!($cap), $("=", $($value, ",",)*)? " ",)*);
        #[cfg(target_arch = "wasm32")]
        #[unsafe(link_section = "upshift:capabilities")]
        #[used]
        static __UPSHIFT_CAPABILITIES: [u8; __UPSHIFT_CAPABILITIES_TEXT.len()] =
            $crate::__private::to_array(__UPSHIFT_CAPABILITIES_TEXT);
    };
}
