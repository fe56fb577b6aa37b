//! Hostile target: a fleet of units (versions and weight in its state, which `observe` reports
//! honestly) that answers one call (`lie_on`: apply, weight, rollback or finalize) with a report of
//! success while changing nothing ("weight": apply moves the units but not the traffic). The host
//! must notice by reading the target back.

use upshift_sdk::serde::Deserialize;
use upshift_sdk::{Capabilities, Change, Description, Observation, Operation, PluginError, Target, UnitVersion, state};

#[derive(Debug, Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Config {
    pub units: Vec<String>,
    /// The call that lies: "apply", "weight", "rollback" or "finalize".
    pub lie_on: String,
}

pub struct Liar;

fn version(unit: &str, from: &str) -> String {
    state::get(&format!("unit/{unit}")).unwrap_or_else(|| from.to_string())
}

/// Does what `op` asks (units to `version`, the weight to `op.weight`) unless this call lies; the
/// report always claims it was done.
fn carry_out(call: &str, op: &Operation, version: &str, config: &Config) -> Result<Change, PluginError> {
    let lie = config.lie_on == call;
    if !lie {
        for u in &op.units {
            state::set(&format!("unit/{u}"), version)?;
        }
    }
    if let Some(w) = op.weight
        && !(lie || config.lie_on == "weight" && call == "apply")
    {
        state::set("weight", &w.to_string())?;
    }
    Ok(Change {
        message: format!("{call} done (all {} units)", op.units.len()),
        weight: op.weight,
        units: op.units.iter().map(|u| UnitVersion { unit: u.clone(), version: Some(version.to_string()) }).collect(),
    })
}

impl Target for Liar {
    type Config = Config;

    fn describe() -> Description {
        Description {
            name: "lying-target".into(),
            version: "0.1.0".into(),
            summary: "reports success for a call it did not carry out".into(),
            capabilities: Capabilities {
                traffic_split: true,
                unit_batches: true,
                rollback: true,
                irreversible: vec![],
            },
        }
    }

    fn observe(config: &Config, from: String, _: String) -> Result<Observation, PluginError> {
        let units =
            config.units.iter().map(|u| UnitVersion { unit: u.clone(), version: Some(version(u, &from)) }).collect();
        let weight = Some(state::get("weight").and_then(|w| w.parse().ok()).unwrap_or(0));
        Ok(Observation { units, weight, irreversible: vec![] })
    }

    fn apply(op: Operation, config: &Config) -> Result<Change, PluginError> {
        let to = op.to_version.clone();
        carry_out("apply", &op, &to, config)
    }

    fn rollback(op: Operation, config: &Config) -> Result<Change, PluginError> {
        let from = op.from_version.clone();
        carry_out("rollback", &op, &from, config)
    }

    fn finalize(op: Operation, config: &Config) -> Result<Change, PluginError> {
        let to = op.to_version.clone();
        carry_out("finalize", &op, &to, config)
    }
}

upshift_sdk::export_target!(Liar);
