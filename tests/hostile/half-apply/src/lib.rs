//! Hostile target: `apply` moves only the first half of the stage's units (rounded up) and answers
//! that it moved them all; `observe` reports honestly (versions in its state). The host must see the
//! stage did not take, and its rollback must undo exactly the half that moved.

use upshift_sdk::serde::Deserialize;
use upshift_sdk::{Capabilities, Change, Description, Observation, Operation, PluginError, Target, UnitVersion, state};

#[derive(Debug, Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Config {
    pub units: Vec<String>,
}

pub struct Half;

fn key(unit: &str) -> String {
    format!("unit/{unit}")
}

impl Target for Half {
    type Config = Config;

    fn describe() -> Description {
        Description {
            name: "half-apply".into(),
            version: "0.1.0".into(),
            summary: "moves half a stage and claims all of it".into(),
            capabilities: Capabilities {
                traffic_split: false,
                unit_batches: true,
                rollback: true,
                irreversible: vec![],
            },
        }
    }

    fn observe(config: &Config, from: String, _: String) -> Result<Observation, PluginError> {
        let units = config
            .units
            .iter()
            .map(|u| UnitVersion {
                unit: u.clone(),
                version: Some(state::get(&key(u)).unwrap_or_else(|| from.clone())),
            })
            .collect();
        Ok(Observation { units, weight: None, irreversible: vec![] })
    }

    fn apply(op: Operation, _: &Config) -> Result<Change, PluginError> {
        for u in op.units.iter().take(op.units.len().div_ceil(2)) {
            state::set(&key(u), &op.to_version)?;
        }
        let claimed = op.units.iter().map(|u| UnitVersion { unit: u.clone(), version: Some(op.to_version.clone()) });
        Ok(Change { message: format!("all {} units moved", op.units.len()), weight: None, units: claimed.collect() })
    }

    fn rollback(op: Operation, _: &Config) -> Result<Change, PluginError> {
        for u in &op.units {
            state::set(&key(u), &op.from_version)?;
        }
        state::set("rolled-back", &op.units.join(","))?;
        Ok(Change { message: format!("rolled back {}", op.units.join(",")), weight: None, units: vec![] })
    }

    fn finalize(_: Operation, _: &Config) -> Result<Change, PluginError> {
        Ok(Change { message: "finalized".into(), weight: None, units: vec![] })
    }
}

upshift_sdk::export_target!(Half);
