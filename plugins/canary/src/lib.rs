//! Strategy `canary`: explicit steps, each reaching a traffic weight and/or a number of units, with
//! its own bake. A final stage promoting everything is added when the steps stop short.

use upshift_sdk::planning::{CumulativePlan, units_for_percent};
use upshift_sdk::serde::Deserialize;
use upshift_sdk::{PluginError, RolloutInfo, Stage, Strategy};

/// Bake of the implicit final stage, when the config does not say.
pub const DEFAULT_FINAL_BAKE_SECONDS: u32 = 0;

#[derive(Debug, Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Step {
    /// Percent of traffic on the new version after this step.
    #[serde(default)]
    pub weight: Option<u8>,
    /// Units on the new version after this step (a running total, not a batch size).
    #[serde(default)]
    pub units: Option<usize>,
    /// Percent of units on the new version after this step; an alternative to `units`.
    #[serde(default)]
    pub units_percent: Option<u8>,
    #[serde(default)]
    pub bake_seconds: u32,
    /// Verify after the bake (default true).
    #[serde(default = "yes")]
    pub verify: bool,
    /// Hold for approval before applying this step.
    #[serde(default)]
    pub approval: bool,
    #[serde(default)]
    pub name: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Config {
    pub steps: Vec<Step>,
    /// Bake of the promoting stage added when the steps stop short of everything.
    #[serde(default)]
    pub final_bake_seconds: Option<u32>,
}

pub struct Canary;

impl Strategy for Canary {
    type Config = Config;

    fn plan(config: &Config, rollout: RolloutInfo) -> Result<Vec<Stage>, PluginError> {
        if config.steps.is_empty() {
            return Err(PluginError::invalid_config("canary: `steps` is empty; give at least one step"));
        }
        let total = rollout.units.len();
        let mut plan = CumulativePlan::new(&rollout.units);
        let mut reached_units = 0;
        for (i, step) in config.steps.iter().enumerate() {
            let units = match (step.units, step.units_percent) {
                (Some(_), Some(_)) => {
                    return Err(PluginError::invalid_config(format!(
                        "canary: step {} sets both `units` and `units_percent`; keep one",
                        i + 1
                    )));
                }
                (Some(n), None) => n,
                (None, Some(p)) => units_for_percent(total, p),
                (None, None) => reached_units,
            };
            if step.weight.is_some_and(|w| w > 100) {
                return Err(PluginError::invalid_config(format!("canary: step {} has a weight over 100", i + 1)));
            }
            if step.weight.is_some() && !rollout.traffic_split {
                return Err(PluginError::invalid_config(format!(
                    "canary: step {} sets a traffic weight but the target cannot split traffic; use `units`",
                    i + 1
                )));
            }
            let name = step.name.clone().unwrap_or_else(|| default_name(i, step));
            let mut template = Stage::new(name).bake(step.bake_seconds);
            template.verify = step.verify;
            template.approval = step.approval;
            plan.reach(units, step.weight, template)?;
            reached_units = units;
        }
        if !plan.complete(rollout.traffic_split) {
            let weight = rollout.traffic_split.then_some(100);
            let bake = config.final_bake_seconds.unwrap_or(DEFAULT_FINAL_BAKE_SECONDS);
            plan.reach(total, weight, Stage::new("promote").bake(bake).verified())?;
        }
        plan.finish()
    }
}

fn default_name(i: usize, step: &Step) -> String {
    match (i, step.weight) {
        (0, _) => "canary".to_string(),
        (_, Some(w)) => format!("weight-{w}"),
        _ => format!("step-{}", i + 1),
    }
}

upshift_sdk::export_strategy!(Canary);

#[cfg(test)]
mod tests {
    use super::*;

    fn info(n: usize, traffic_split: bool) -> RolloutInfo {
        RolloutInfo::example("shard-", n, traffic_split)
    }

    fn config(json: &str) -> Config {
        upshift_sdk::parse_config(json).unwrap()
    }

    #[test]
    fn weights_then_implicit_promotion() {
        let c = config(r#"{"steps": [{"weight": 1}, {"weight": 25, "bake_seconds": 30}]}"#);
        let stages = Canary::plan(&c, info(0, true)).unwrap();
        let weights: Vec<_> = stages.iter().map(|s| s.weight).collect();
        assert_eq!(weights, vec![Some(1), Some(25), Some(100)]);
        assert_eq!(stages[1].bake_seconds, 30);
        assert_eq!(stages[2].name, "promote");
    }

    #[test]
    fn one_unit_canary_then_the_rest() {
        let c = config(r#"{"steps": [{"units": 1}, {"units_percent": 100}]}"#);
        let stages = Canary::plan(&c, info(8, false)).unwrap();
        assert_eq!(stages.len(), 2);
        assert_eq!(stages[0].units, vec!["shard-0"]);
        assert_eq!(stages[1].units.len(), 7);
    }

    #[test]
    fn weight_on_a_target_without_traffic_split_is_invalid() {
        let c = config(r#"{"steps": [{"weight": 5}]}"#);
        let err = Canary::plan(&c, info(3, false)).unwrap_err();
        assert!(err.message.contains("cannot split traffic"), "{}", err.message);
    }

    #[test]
    fn empty_steps_are_invalid() {
        assert!(Canary::plan(&config(r#"{"steps": []}"#), info(3, false)).is_err());
    }
}
