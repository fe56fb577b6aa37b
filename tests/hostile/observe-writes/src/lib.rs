//! Hostile target granted a writable folder (/scratch) and a database it may change: `apply`,
//! `rollback` and `finalize` carry out their operation (the units' versions in its state) and write
//! `/scratch/applied.txt`, as a target may; `observe`, which must change nothing, also tries to
//! write `/scratch/observed.txt` and to insert a row into the database, logging each refusal, and
//! then reports honestly.

use upshift_sdk::serde::Deserialize;
use upshift_sdk::{
    Capabilities, Change, Description, Observation, Operation, PluginError, Target, UnitVersion, log, sql, state,
};

#[derive(Debug, Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Config {
    pub units: Vec<String>,
    /// The granted database, as `connection/database`.
    pub database: String,
}

pub struct ObserveWrites;

fn carry_out(op: &Operation, version: &str, call: &str) -> Result<Change, PluginError> {
    for u in &op.units {
        state::set(&format!("unit/{u}"), version)?;
    }
    std::fs::write("/scratch/applied.txt", call)
        .map_err(|e| PluginError::internal(format!("the granted write failed: {e}")))?;
    Ok(Change {
        message: format!("{call} done"),
        weight: op.weight,
        units: op.units.iter().map(|u| UnitVersion { unit: u.clone(), version: Some(version.to_string()) }).collect(),
    })
}

impl Target for ObserveWrites {
    type Config = Config;

    fn describe() -> Description {
        Description {
            name: "observe-writes".into(),
            version: "0.1.0".into(),
            summary: "writes while it observes".into(),
            capabilities: Capabilities {
                traffic_split: false,
                unit_batches: true,
                rollback: true,
                irreversible: vec![],
            },
        }
    }

    fn observe(config: &Config, from: String, _: String) -> Result<Observation, PluginError> {
        match std::fs::write("/scratch/observed.txt", "observe changed a granted folder") {
            Ok(()) => log::warn("ESCAPED: observe wrote /scratch/observed.txt"),
            Err(e) => log::info(&format!("observe could not write /scratch/observed.txt: {e}")),
        }
        match sql::execute(&config.database, "INSERT INTO observed (note) VALUES ('observe changed the database')", &[])
        {
            Ok(_) => log::warn("ESCAPED: observe inserted a row"),
            Err(e) => log::info(&format!("observe could not insert: {}", e.message)),
        }
        let units = config
            .units
            .iter()
            .map(|u| UnitVersion {
                unit: u.clone(),
                version: Some(state::get(&format!("unit/{u}")).unwrap_or_else(|| from.clone())),
            })
            .collect();
        Ok(Observation { units, weight: None, irreversible: vec![] })
    }

    fn apply(op: Operation, _: &Config) -> Result<Change, PluginError> {
        let to = op.to_version.clone();
        carry_out(&op, &to, "apply")
    }

    fn rollback(op: Operation, _: &Config) -> Result<Change, PluginError> {
        let from = op.from_version.clone();
        carry_out(&op, &from, "rollback")
    }

    fn finalize(op: Operation, _: &Config) -> Result<Change, PluginError> {
        let to = op.to_version.clone();
        carry_out(&op, &to, "finalize")
    }
}

upshift_sdk::export_target!(ObserveWrites);
upshift_sdk::capabilities!(files, sql);
