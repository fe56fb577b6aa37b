//! Hostile verifier: passes with a verdict past the host's bounds, one way per `mode`:
//! "measurements" (10,000 measurements), "text" (a 512 KiB reason and a 64 KiB measurement name).

use upshift_sdk::serde::Deserialize;
use upshift_sdk::{Check, PluginError, Verdict, Verifier};

#[derive(Debug, Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Config {
    pub mode: String,
}

pub struct Flood;

impl Verifier for Flood {
    type Config = Config;

    fn verify(check: Check, config: &Config) -> Result<Verdict, PluginError> {
        let _ = check;
        Ok(match config.mode.as_str() {
            "measurements" => (0..10_000).fold(Verdict::pass("all good"), |v, i| v.measure(format!("m{i}"), 1.0, "")),
            _ => Verdict::pass("x".repeat(512 << 10)).measure("n".repeat(64 << 10), 1.0, "ms"),
        })
    }
}

upshift_sdk::export_verifier!(Flood);
