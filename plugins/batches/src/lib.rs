//! Strategy `batches`: an optional canary batch, then rolling batches of at most `batch_size` units,
//! never more than `max_unavailable` units changing in one stage.

use upshift_sdk::planning::CumulativePlan;
use upshift_sdk::serde::Deserialize;
use upshift_sdk::{PluginError, RolloutInfo, Stage, Strategy};

#[derive(Debug, Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Config {
    /// Units per batch.
    pub batch_size: usize,
    /// Size of a first, separately baked canary batch (0 for none).
    #[serde(default)]
    pub canary: usize,
    /// The most units that may be changing at once; caps the batch size.
    #[serde(default)]
    pub max_unavailable: Option<usize>,
    #[serde(default)]
    pub bake_seconds: u32,
    /// Bake of the canary batch; defaults to `bake_seconds`.
    #[serde(default)]
    pub canary_bake_seconds: Option<u32>,
}

pub struct Batches;

impl Strategy for Batches {
    type Config = Config;

    fn plan(config: &Config, rollout: RolloutInfo) -> Result<Vec<Stage>, PluginError> {
        let cap = config.max_unavailable.unwrap_or(config.batch_size);
        let size = config.batch_size.min(cap);
        if size == 0 {
            return Err(PluginError::invalid_config("batches: `batch_size` and `max_unavailable` must be at least 1"));
        }
        if config.canary > cap {
            return Err(PluginError::invalid_config(format!(
                "batches: canary of {} units exceeds max_unavailable {cap}",
                config.canary
            )));
        }
        let total = rollout.units.len();
        let mut plan = CumulativePlan::new(&rollout.units);
        let mut done = 0;
        if config.canary > 0 {
            done = config.canary.min(total);
            let bake = config.canary_bake_seconds.unwrap_or(config.bake_seconds);
            plan.reach(done, None, Stage::new("canary").bake(bake).verified())?;
        }
        let mut n = 1;
        while done < total {
            done = (done + size).min(total);
            plan.reach(done, None, Stage::new(format!("batch-{n}")).bake(config.bake_seconds).verified())?;
            n += 1;
        }
        plan.finish()
    }
}

upshift_sdk::export_strategy!(Batches);

#[cfg(test)]
mod tests {
    use super::*;

    fn info(n: usize) -> RolloutInfo {
        RolloutInfo::example("u", n, false)
    }

    fn config(batch_size: usize, canary: usize, max_unavailable: Option<usize>) -> Config {
        Config { batch_size, canary, max_unavailable, bake_seconds: 0, canary_bake_seconds: None }
    }

    #[test]
    fn canary_then_batches_of_three() {
        let stages = Batches::plan(&config(3, 1, None), info(8)).unwrap();
        let sizes: Vec<_> = stages.iter().map(|s| s.units.len()).collect();
        assert_eq!(sizes, vec![1, 3, 3, 1]);
        assert_eq!(stages[0].name, "canary");
    }

    #[test]
    fn max_unavailable_caps_the_batch() {
        let stages = Batches::plan(&config(5, 0, Some(2)), info(4)).unwrap();
        assert!(stages.iter().all(|s| s.units.len() == 2));
    }

    #[test]
    fn zero_batch_is_invalid() {
        assert!(Batches::plan(&config(0, 0, None), info(4)).is_err());
    }
}
