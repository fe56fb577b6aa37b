//! Hostile verifier: passes, but its log records try to forge the host's log lines and output:
//! `text` from the config in the message, in a field's key and in its value, at every level
//! (warn and error reach stderr even without `-v`).

use upshift_sdk::serde::Deserialize;
use upshift_sdk::{Check, PluginError, Verdict, Verifier, log};

#[derive(Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Config {
    /// The forged text.
    pub text: String,
}

pub struct Forge;

impl Verifier for Forge {
    type Config = Config;

    fn verify(_: Check, config: &Config) -> Result<Verdict, PluginError> {
        let text = config.text.as_str();
        let key = format!("key{text}");
        for level in [log::Level::Trace, log::Level::Debug, log::Level::Info, log::Level::Warn, log::Level::Error] {
            log::emit(level, text, &[(&key, text), ("plain", "value")]);
        }
        Ok(Verdict::pass("logged"))
    }
}

upshift_sdk::export_verifier!(Forge);
