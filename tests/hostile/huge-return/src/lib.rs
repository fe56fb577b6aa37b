//! Hostile verifier: answers with a reason of `mib` MiB (its config): past its memory limit it is
//! stopped while building it; within it, the host refuses the oversized answer.

use upshift_sdk::serde::Deserialize;
use upshift_sdk::{Check, PluginError, Verdict, Verifier};

#[derive(Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Config {
    pub mib: usize,
}

pub struct Flood;

impl Verifier for Flood {
    type Config = Config;

    fn verify(_: Check, config: &Config) -> Result<Verdict, PluginError> {
        Ok(Verdict::pass("x".repeat(config.mib << 20)))
    }
}

upshift_sdk::export_verifier!(Flood);
