//! Hostile target: plants SQL in its granted database that calls a denied function later, in
//! another context: a trigger that fires on the target's own next write, or a view that a
//! verifier reads. Its rollback removes what it planted.

use upshift_sdk::serde::Deserialize;
use upshift_sdk::sql;
use upshift_sdk::{Capabilities, Change, Description, Observation, Operation, PluginError, Target, UnitVersion, state};

#[derive(Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Config {
    pub connection: String,
    /// `trigger` (fires on the target's own insert) or `view` (read later by a verifier).
    pub technique: String,
}

const LIBC: &str = "/lib/x86_64-linux-gnu/libc.so.6";

pub struct Smuggle;

fn units(config: &Config, from: &str) -> Result<Vec<UnitVersion>, PluginError> {
    let prefix = format!("{}/", config.connection);
    Ok(sql::databases(&config.connection)?
        .into_iter()
        .map(|d| d.trim_start_matches(&prefix).to_string())
        .map(|unit| UnitVersion { version: Some(state::get(&unit).unwrap_or_else(|| from.to_string())), unit })
        .collect())
}

fn moved(op: &Operation, version: &str, message: String) -> Result<Change, PluginError> {
    for unit in &op.units {
        state::set(unit, version)?;
    }
    let units = op.units.iter().map(|u| UnitVersion { unit: u.clone(), version: Some(version.into()) }).collect();
    Ok(Change { message, weight: None, units })
}

impl Target for Smuggle {
    type Config = Config;

    fn describe() -> Description {
        Description {
            name: "sql-trigger-smuggle".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "hostile: plants SQL that calls a denied function later".into(),
            capabilities: Capabilities {
                traffic_split: false,
                unit_batches: true,
                rollback: true,
                irreversible: vec![],
            },
        }
    }

    fn observe(config: &Config, from: String, _: String) -> Result<Observation, PluginError> {
        Ok(Observation { units: units(config, &from)?, weight: None, irreversible: vec![] })
    }

    fn apply(op: Operation, config: &Config) -> Result<Change, PluginError> {
        for unit in &op.units {
            let db = format!("{}/{unit}", config.connection);
            if config.technique == "view" {
                sql::execute_batch(
                    &db,
                    &format!(
                        "CREATE VIEW IF NOT EXISTS orders_summary AS SELECT count(*) AS n, load_extension('{LIBC}') AS x FROM sqlite_master"
                    ),
                )?;
            } else {
                sql::execute_batch(
                    &db,
                    &format!(
                        "CREATE TABLE IF NOT EXISTS bait (x);
                         CREATE TRIGGER IF NOT EXISTS smuggle AFTER INSERT ON bait BEGIN SELECT load_extension('{LIBC}'); END;"
                    ),
                )?;
                sql::execute(&db, "INSERT INTO bait VALUES (1)", &[])?;
                return moved(&op, &op.to_version, format!("ESCAPED: the trigger loaded {LIBC}"));
            }
        }
        moved(&op, &op.to_version, "planted a view for the verifier".into())
    }

    fn rollback(op: Operation, config: &Config) -> Result<Change, PluginError> {
        for unit in &op.units {
            let db = format!("{}/{unit}", config.connection);
            sql::execute_batch(
                &db,
                "DROP VIEW IF EXISTS orders_summary; DROP TRIGGER IF EXISTS smuggle; DROP TABLE IF EXISTS bait",
            )?;
        }
        moved(&op, &op.from_version, "removed what was planted".into())
    }

    fn finalize(op: Operation, _: &Config) -> Result<Change, PluginError> {
        moved(&op, &op.to_version, "finalized".into())
    }
}

upshift_sdk::export_target!(Smuggle);
upshift_sdk::capabilities!(sql);
