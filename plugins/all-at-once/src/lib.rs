//! Strategy `all-at-once`: every unit and all traffic in one stage, verified after its bake.

use upshift_sdk::serde::Deserialize;
use upshift_sdk::{PluginError, RolloutInfo, Stage, Strategy};

#[derive(Debug, Default, Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Config {
    /// Seconds to bake before verification.
    #[serde(default)]
    pub bake_seconds: u32,
    /// Hold for approval before the one stage.
    #[serde(default)]
    pub approval: bool,
}

pub struct AllAtOnce;

impl Strategy for AllAtOnce {
    type Config = Config;

    fn plan(config: &Config, rollout: RolloutInfo) -> Result<Vec<Stage>, PluginError> {
        let mut stage = Stage::new("all").units(rollout.units).bake(config.bake_seconds).verified();
        if rollout.traffic_split {
            stage = stage.weight(100);
        }
        if config.approval {
            stage = stage.with_approval();
        }
        Ok(vec![stage])
    }
}

upshift_sdk::export_strategy!(AllAtOnce);

#[cfg(test)]
mod tests {
    use super::*;

    fn info(units: &[&str], traffic_split: bool) -> RolloutInfo {
        RolloutInfo {
            units: units.iter().map(|u| u.to_string()).collect(),
            ..RolloutInfo::example("", 0, traffic_split)
        }
    }

    #[test]
    fn one_verified_stage_with_everything() {
        let stages = AllAtOnce::plan(&Config::default(), info(&["a", "b"], true)).unwrap();
        assert_eq!(stages.len(), 1);
        assert_eq!(stages[0].units, vec!["a", "b"]);
        assert_eq!(stages[0].weight, Some(100));
        assert!(stages[0].verify);
    }
}
