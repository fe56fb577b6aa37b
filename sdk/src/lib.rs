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

#[cfg(feature = "sigv4")]
pub mod aws;
#[doc(hidden)]
pub mod bindings;
mod config;
mod errors;
pub mod host;
pub mod http;
pub mod planning;
#[cfg(feature = "sigv4")]
pub mod sigv4;
mod strategy;
mod target;
mod types;
mod verifier;

pub use config::{NoConfig, PluginConfig, config_schema, parse_config, validate_config, with_config};
pub use host::{clock, log, sql, state};
pub use strategy::{Decision, Progress, Strategy};
pub use target::{Capabilities, Change, Description, Observation, Operation, Target, UnitVersion};
pub use types::{ErrorKind, Measurement, Outcome, PluginError, RolloutInfo, Stage, Verdict};
pub use verifier::{Check, Verifier, outside_bounds};

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

#[cfg(test)]
mod contract_tests {
    use std::path::Path;

    /// The `.wit` files of `dir`, by name, with their text.
    fn wit_files(dir: &Path) -> Vec<(String, String)> {
        let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "wit"))
            .map(|p| {
                let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
                (name, text)
            })
            .collect();
        files.sort();
        files
    }

    /// The SDK builds from its own copy of the contract (so the crate builds outside the
    /// repository); it must be the repository's `wit/`, file for file, byte for byte.
    #[test]
    fn the_sdks_wit_is_the_repositorys() {
        let sdk = Path::new(env!("CARGO_MANIFEST_DIR"));
        let ours = wit_files(&sdk.join("wit"));
        let repo = wit_files(&sdk.join("../wit"));
        let names = |f: &[(String, String)]| f.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        assert_eq!(names(&ours), names(&repo), "sdk/wit and wit/ hold different files: copy wit/*.wit to sdk/wit/");
        for ((name, a), (_, b)) in ours.iter().zip(&repo) {
            assert!(a == b, "sdk/wit/{name} differs from wit/{name}: copy wit/*.wit to sdk/wit/");
        }
    }

    /// A released contract version never changes: plugins built against it rely on every byte.
    #[test]
    fn the_frozen_0_1_0_contract_is_unchanged() {
        let frozen = wit_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit/v0.1.0"));
        let names: Vec<&str> = frozen.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["host.wit", "sql.wit", "strategy.wit", "target.wit", "types.wit", "verifier.wit", "worlds.wit"]
        );
        let all: String = frozen.iter().map(|(_, text)| text.as_str()).collect();
        assert!(frozen.iter().all(|(_, text)| text.starts_with("package upshift:plugin@0.1.0;")));
        assert_eq!(all.len(), FROZEN_0_1_0_BYTES, "wit/v0.1.0 was edited: a released contract is frozen");
        assert_eq!(fnv1a(all.as_bytes()), FROZEN_0_1_0_FNV1A, "wit/v0.1.0 was edited: a released contract is frozen");
    }

    const FROZEN_0_1_0_BYTES: usize = 12717;
    const FROZEN_0_1_0_FNV1A: u64 = 0xae25f99bb85c5bb8;

    /// FNV-1a, 64 bits: enough to notice an edit, and no dependency for it.
    fn fnv1a(bytes: &[u8]) -> u64 {
        bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
    }
}
