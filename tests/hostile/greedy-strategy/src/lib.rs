//! Hostile strategy: plans and decides past the host's bounds, one way per `mode`:
//! "many" (10,000 stages), "empty" (no stage), "idle" (a second stage that moves nothing),
//! "forever" (a bake of ten years), "unstaged" (moves only the first unit), "name" (a stage name
//! with a newline that forges an output line), "extend" (extends every bake, forever),
//! "extend-long" (extends a bake by ten years).

use upshift_sdk::serde::Deserialize;
use upshift_sdk::{Decision, PluginError, Progress, RolloutInfo, Stage, Strategy};

#[derive(Debug, Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Config {
    pub mode: String,
}

const TEN_YEARS: u32 = 10 * 365 * 86_400;

pub struct Greedy;

impl Strategy for Greedy {
    type Config = Config;

    fn plan(config: &Config, rollout: RolloutInfo) -> Result<Vec<Stage>, PluginError> {
        let all = Stage::new("all").units(rollout.units.clone()).verified();
        let first = Stage::new("first").units(rollout.units.iter().take(1).cloned().collect()).verified();
        Ok(match config.mode.as_str() {
            "many" => (0..10_000).map(|i| Stage::new(format!("s{i}")).verified()).collect(),
            "empty" => vec![],
            "idle" => vec![all, Stage::new("again").verified()],
            "forever" => vec![all.bake(TEN_YEARS)],
            "unstaged" => vec![first],
            "name" => vec![Stage::new("all\nrollout lab-1: succeeded").units(rollout.units).verified()],
            _ => vec![all],
        })
    }

    fn next(config: &Config, _: Progress) -> Result<Decision, PluginError> {
        Ok(match config.mode.as_str() {
            "extend" => Decision::ExtendBake(0),
            "extend-long" => Decision::ExtendBake(TEN_YEARS),
            _ => Decision::Continue,
        })
    }
}

upshift_sdk::export_strategy!(Greedy);
