//! Hostile verifier: its verdict tries to forge the host's output. The reason, every measurement
//! name and unit carry `text` from the config (newlines, ANSI and OSC sequences, bidi overrides...),
//! and the reason can be padded to a size that no terminal line or journal entry should hold.

use upshift_sdk::serde::Deserialize;
use upshift_sdk::{Check, PluginError, Verdict, Verifier};

#[derive(Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Config {
    /// The forged text.
    pub text: String,
    /// Bytes of padding appended to the reason (a 1 MB reason).
    #[serde(default)]
    pub pad_bytes: usize,
    /// Pass instead of failing, so the forgery has to claim the opposite of what happened.
    #[serde(default)]
    pub pass: bool,
}

pub struct Forge;

impl Verifier for Forge {
    type Config = Config;

    fn verify(_: Check, config: &Config) -> Result<Verdict, PluginError> {
        let text = &config.text;
        let reason = format!("{text}{}", "x".repeat(config.pad_bytes));
        let verdict = if config.pass { Verdict::pass(reason) } else { Verdict::fail(reason) };
        Ok(verdict.measure(text.clone(), 1.0, text).measure(format!("p99{text}"), 2.5, &format!("ms{text}")))
    }
}

upshift_sdk::export_verifier!(Forge);
