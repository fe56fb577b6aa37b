//! Hostile strategy: its plan and decisions try to forge the host's output. Every stage name ends
//! with `text` from the config, and after the first stage it holds or rolls back with `text` as the
//! reason (which becomes the rollout's note, shown by `status` and the run's wait line).

use upshift_sdk::serde::Deserialize;
use upshift_sdk::{Decision, PluginError, Progress, RolloutInfo, Stage, Strategy};

#[derive(Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Config {
    /// The forged text.
    pub text: String,
    /// What follows the first stage: `hold`, `roll-back` or `continue`.
    pub decide: String,
    /// Name the stages plainly (the host refuses forged stage names at planning).
    #[serde(default)]
    pub plain_names: bool,
}

pub struct Forge;

impl Strategy for Forge {
    type Config = Config;

    fn plan(config: &Config, rollout: RolloutInfo) -> Result<Vec<Stage>, PluginError> {
        let text = if config.plain_names { "" } else { config.text.as_str() };
        let (first, rest) = rollout.units.split_first().ok_or_else(|| PluginError::invalid_config("no units"))?;
        Ok(vec![
            Stage::new(format!("canary{text}")).units(vec![first.clone()]).verified(),
            Stage::new(format!("rest{text}")).units(rest.to_vec()).verified(),
        ])
    }

    fn next(config: &Config, _: Progress) -> Result<Decision, PluginError> {
        let text = config.text.clone();
        match config.decide.as_str() {
            "hold" => Ok(Decision::Hold(text)),
            "roll-back" => Ok(Decision::RollBack(text)),
            "continue" => Ok(Decision::Continue),
            other => Err(PluginError::invalid_config(format!("decide: unknown {other:?}{text}"))),
        }
    }
}

upshift_sdk::export_strategy!(Forge);
