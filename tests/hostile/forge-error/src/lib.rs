//! Hostile target: everything it says about itself and its work tries to forge the host's output.
//! `describe()` (shown by `upshift plugin inspect`) and its declared capabilities (a custom section,
//! shown by `inspect` and noted in the history) carry a fixed forgery; unit names, irreversible
//! steps, change messages, errors (of `observe` or `apply`), a panic message (quoted from its stderr)
//! and logs carry `text` from the config, and so does its refusal of its own config (`validate-config`). Unit versions live in its state, which `observe` reports,
//! so an apply that fails or panics after moving its units is rolled back.

use upshift_sdk::serde::Deserialize;
use upshift_sdk::{
    Capabilities, Change, Description, Observation, Operation, PluginError, Target, UnitVersion, log, state,
};

// An environment variable "name" that tries to write the clipboard and reverse the text after it.
upshift_sdk::capabilities!(env = ["FORGED\u{1b}]52;c;ZXZpbA==\u{7}\u{202e}dedeeccus"]);

/// What `describe()` says in every field.
pub const DESCRIBED: &str =
    "forge\n\x1b[2J\x1b[32mrollout lab-1: succeeded\x1b]8;;https://evil.example/\x1b\\link\u{202e}";

#[derive(Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Config {
    /// The forged text.
    pub text: String,
    /// The units, each reported with `text` appended to its name unless `plain_units`.
    pub units: Vec<String>,
    /// Report the units by their plain names (the host refuses forged unit names at planning).
    #[serde(default)]
    pub plain_units: bool,
    /// `apply` fails with `text` as its error.
    #[serde(default)]
    pub fail_apply: bool,
    /// `observe` reports `text` as an irreversible change (so the plan asks for approval).
    #[serde(default)]
    pub irreversible: bool,
    /// `observe` fails with `text` as its error (so `plan` and `run` end in an error message).
    #[serde(default)]
    pub fail_observe: bool,
    /// `apply` panics with `text`, which the host quotes from the plugin's stderr.
    #[serde(default)]
    pub panic_apply: bool,
    /// `validate-config` refuses the config with `text` as its error (so `validate`, `plan` and
    /// `run` refuse the spec quoting it).
    #[serde(default)]
    pub fail_validate: bool,
}

pub struct Forge;

fn change(op: &Operation, text: &str, version: &str) -> Change {
    for u in &op.units {
        let _ = state::set(&format!("unit/{u}"), version);
    }
    log::emit(log::Level::Warn, text, &[(text, text)]);
    Change {
        message: text.to_string(),
        weight: None,
        units: op.units.iter().map(|u| UnitVersion { unit: u.clone(), version: Some(version.to_string()) }).collect(),
    }
}

impl Target for Forge {
    type Config = Config;

    fn check_config(config: &Config) -> Result<(), PluginError> {
        if config.fail_validate {
            return Err(PluginError::invalid_config(config.text.clone()));
        }
        Ok(())
    }

    fn describe() -> Description {
        Description {
            name: DESCRIBED.into(),
            version: DESCRIBED.into(),
            summary: DESCRIBED.into(),
            capabilities: Capabilities {
                traffic_split: false,
                unit_batches: true,
                rollback: true,
                irreversible: vec![DESCRIBED.into()],
            },
        }
    }

    fn observe(config: &Config, from: String, _to: String) -> Result<Observation, PluginError> {
        if config.fail_observe {
            return Err(PluginError::internal(config.text.clone()));
        }
        let units = config
            .units
            .iter()
            .map(|u| {
                let unit = if config.plain_units { u.clone() } else { format!("{u}{}", config.text) };
                let version = state::get(&format!("unit/{unit}")).unwrap_or_else(|| from.clone());
                UnitVersion { unit, version: Some(version) }
            })
            .collect();
        let irreversible = if config.irreversible { vec![config.text.clone()] } else { vec![] };
        Ok(Observation { units, weight: None, irreversible })
    }

    fn apply(op: Operation, config: &Config) -> Result<Change, PluginError> {
        // The units move first: a failure or panic after that leaves something to roll back.
        let done = change(&op, &config.text, &op.to_version);
        if config.fail_apply {
            return Err(PluginError::unavailable(config.text.clone()));
        }
        if config.panic_apply {
            panic!("{}", config.text);
        }
        Ok(done)
    }

    fn rollback(op: Operation, config: &Config) -> Result<Change, PluginError> {
        Ok(change(&op, &config.text, &op.from_version))
    }

    fn finalize(op: Operation, config: &Config) -> Result<Change, PluginError> {
        Ok(change(&op, &config.text, &op.to_version))
    }
}

upshift_sdk::export_target!(Forge);
