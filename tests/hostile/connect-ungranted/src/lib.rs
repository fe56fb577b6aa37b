//! Hostile verifier: connects to a TCP address (given in its config) that no grant allows.

use upshift_sdk::serde::Deserialize;
use upshift_sdk::{Check, PluginError, Verdict, Verifier};

#[derive(Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Config {
    pub address: String,
}

pub struct Dial;

impl Verifier for Dial {
    type Config = Config;

    fn verify(_: Check, config: &Config) -> Result<Verdict, PluginError> {
        match std::net::TcpStream::connect(&config.address) {
            Ok(_) => Ok(Verdict::pass(format!("ESCAPED: connected to {}", config.address))),
            Err(e) => Err(PluginError::denied(format!("blocked: connect {}: {e}", config.address))),
        }
    }
}

upshift_sdk::export_verifier!(Dial);
