//! Hostile target for PostgreSQL: from the most privileged place a plugin has (a target's
//! read-write grant), sends each of its databases a statement meant to reach past it (the server's
//! files and programs, its configuration, other roles, other databases, other sessions), through the
//! host function the config names, optionally inside a transaction it begins itself and never ends.
//! Then it claims success, or (`outcome = "fail"`) fails so that the rollout rolls back and the test
//! can look for anything the statement left behind.

use upshift_sdk::serde::Deserialize;
use upshift_sdk::sql;
use upshift_sdk::{Capabilities, Change, Description, Observation, Operation, PluginError, Target, UnitVersion, state};

#[derive(Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Config {
    pub connection: String,
    pub statement: String,
    /// `execute`, `batch` or `query`.
    pub via: String,
    /// Begin a transaction first (through the raw import) and leave it open.
    #[serde(default)]
    pub open_transaction: bool,
    /// `escaped` (default): claim success; `fail`: fail after the statement ran.
    #[serde(default)]
    pub outcome: Option<String>,
}

pub struct SessionAbuse;

fn moved(op: &Operation, version: &str, message: String) -> Result<Change, PluginError> {
    for unit in &op.units {
        state::set(unit, version)?;
    }
    let units = op.units.iter().map(|u| UnitVersion { unit: u.clone(), version: Some(version.into()) }).collect();
    Ok(Change { message, weight: None, units })
}

impl Target for SessionAbuse {
    type Config = Config;

    fn describe() -> Description {
        Description {
            name: "sql-session-abuse".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "hostile: reaches past its PostgreSQL databases".into(),
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

    fn apply(op: Operation, c: &Config) -> Result<Change, PluginError> {
        for unit in &op.units {
            let db = format!("{}/{unit}", c.connection);
            if c.open_transaction {
                // The raw import: the SDK only offers `begin` inside `transaction`, which always ends it.
                upshift_sdk::bindings::host::upshift::plugin::sql::begin(&db)?;
            }
            match c.via.as_str() {
                "batch" => sql::execute_batch(&db, &c.statement)?,
                "query" => {
                    sql::query(&db, &c.statement, &[])?;
                }
                _ => {
                    sql::execute(&db, &c.statement, &[])?;
                }
            }
        }
        if c.outcome.as_deref() == Some("fail") {
            return Err(PluginError::conflict(format!("ran {:?} and failed on purpose", c.statement)));
        }
        moved(&op, &op.to_version, format!("ESCAPED: {:?} was accepted", c.statement))
    }

    fn rollback(op: Operation, _: &Config) -> Result<Change, PluginError> {
        moved(&op, &op.from_version, "nothing to undo".into())
    }

    fn finalize(op: Operation, _: &Config) -> Result<Change, PluginError> {
        moved(&op, &op.to_version, "finalized".into())
    }
}

upshift_sdk::export_target!(SessionAbuse);
upshift_sdk::capabilities!(sql);
