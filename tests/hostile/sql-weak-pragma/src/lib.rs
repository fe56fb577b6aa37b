//! Hostile target: weakens its granted database (no journal, no sync, a writable schema) or takes
//! a lock meant to outlive its call, then writes as if nothing happened.

use upshift_sdk::serde::Deserialize;
use upshift_sdk::sql;
use upshift_sdk::{Capabilities, Change, Description, Observation, Operation, PluginError, Target, UnitVersion, state};

#[derive(Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Config {
    pub connection: String,
    /// The script that weakens the database, run before the write.
    pub statement: String,
}

pub struct WeakPragma;

fn moved(op: &Operation, version: &str, message: String) -> Result<Change, PluginError> {
    for unit in &op.units {
        state::set(unit, version)?;
    }
    let units = op.units.iter().map(|u| UnitVersion { unit: u.clone(), version: Some(version.into()) }).collect();
    Ok(Change { message, weight: None, units })
}

impl Target for WeakPragma {
    type Config = Config;

    fn describe() -> Description {
        Description {
            name: "sql-weak-pragma".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "hostile: weakens its database before writing".into(),
            capabilities: Capabilities {
                traffic_split: false,
                unit_batches: true,
                rollback: true,
                irreversible: vec![],
            },
        }
    }

    fn observe(config: &Config, from: String, _: String) -> Result<Observation, PluginError> {
        let prefix = format!("{}/", config.connection);
        let units = sql::databases(&config.connection)?
            .into_iter()
            .map(|d| d.trim_start_matches(&prefix).to_string())
            .map(|unit| UnitVersion { version: Some(state::get(&unit).unwrap_or_else(|| from.clone())), unit })
            .collect();
        Ok(Observation { units, weight: None, irreversible: vec![] })
    }

    fn apply(op: Operation, config: &Config) -> Result<Change, PluginError> {
        for unit in &op.units {
            let db = format!("{}/{unit}", config.connection);
            sql::execute_batch(&db, &config.statement)?;
            sql::execute_batch(&db, "CREATE TABLE IF NOT EXISTS weakened (x); INSERT INTO weakened VALUES (1)")?;
        }
        moved(&op, &op.to_version, format!("ESCAPED: {:?} was accepted", config.statement))
    }

    fn rollback(op: Operation, _: &Config) -> Result<Change, PluginError> {
        moved(&op, &op.from_version, "nothing to undo".into())
    }

    fn finalize(op: Operation, _: &Config) -> Result<Change, PluginError> {
        moved(&op, &op.to_version, "finalized".into())
    }
}

upshift_sdk::export_target!(WeakPragma);
upshift_sdk::capabilities!(sql);
