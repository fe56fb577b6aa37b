//! Strategy `linear`: the same step every interval (10%, 20%, ... 100%) of traffic and/or units.

use upshift_sdk::planning::{CumulativePlan, units_for_percent};
use upshift_sdk::serde::Deserialize;
use upshift_sdk::{PluginError, RolloutInfo, Stage, Strategy};

#[derive(Debug, Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Config {
    /// Percentage points added at each stage (1 to 100).
    pub step_percent: u8,
    /// Seconds each stage bakes before verification.
    #[serde(default)]
    pub bake_seconds: u32,
}

pub struct Linear;

impl Strategy for Linear {
    type Config = Config;

    fn plan(config: &Config, rollout: RolloutInfo) -> Result<Vec<Stage>, PluginError> {
        if !(1..=100).contains(&config.step_percent) {
            return Err(PluginError::invalid_config("linear: `step_percent` must be between 1 and 100"));
        }
        let mut plan = CumulativePlan::new(&rollout.units);
        let mut percent: u8 = 0;
        while percent < 100 {
            percent = percent.saturating_add(config.step_percent).min(100);
            let units = units_for_percent(rollout.units.len(), percent);
            let weight = rollout.traffic_split.then_some(percent);
            let stage = Stage::new(format!("{percent}%")).bake(config.bake_seconds).verified();
            plan.reach(units, weight, stage)?;
        }
        plan.finish()
    }
}

upshift_sdk::export_strategy!(Linear);

#[cfg(test)]
mod tests {
    use super::*;

    fn info(n: usize, traffic_split: bool) -> RolloutInfo {
        RolloutInfo::example("u", n, traffic_split)
    }

    #[test]
    fn quarter_steps_of_traffic() {
        let stages = Linear::plan(&Config { step_percent: 25, bake_seconds: 60 }, info(0, true)).unwrap();
        let weights: Vec<_> = stages.iter().map(|s| s.weight.unwrap()).collect();
        assert_eq!(weights, vec![25, 50, 75, 100]);
        assert!(stages.iter().all(|s| s.bake_seconds == 60 && s.verify));
    }

    #[test]
    fn steps_that_move_no_new_unit_are_merged_away() {
        // 3 units in 10% steps: 10% -> 1 unit, 40% -> 2 units, 70% -> 3 units.
        let stages = Linear::plan(&Config { step_percent: 10, bake_seconds: 0 }, info(3, false)).unwrap();
        assert_eq!(stages.len(), 3);
        assert!(stages.iter().all(|s| s.units.len() == 1));
    }

    #[test]
    fn zero_step_is_invalid() {
        assert!(Linear::plan(&Config { step_percent: 0, bake_seconds: 0 }, info(3, false)).is_err());
    }
}
