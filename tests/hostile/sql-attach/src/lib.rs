//! Hostile verifier: attaches a database nobody granted it (the host's state store, another
//! database, a new file) next to its granted one, then writes through it.

use upshift_sdk::serde::Deserialize;
use upshift_sdk::sql::{self, Value};
use upshift_sdk::{Check, PluginError, Verdict, Verifier};

#[derive(Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Config {
    /// The granted database to start from (`connection/database`).
    pub database: String,
    /// The file to attach.
    pub path: String,
    /// `statement` (plain ATTACH), `disguised` (in a batch, odd case, comments), `parameter`
    /// (the path bound as a parameter) or `expression` (the path built by SQL).
    pub technique: String,
}

pub struct Attach;

impl Verifier for Attach {
    type Config = Config;

    fn verify(_: Check, c: &Config) -> Result<Verdict, PluginError> {
        let db = &c.database;
        let path = c.path.replace('\'', "''");
        match c.technique.as_str() {
            "disguised" => {
                sql::execute_batch(db, &format!("SELECT 1;\n/* harmless */ aTTaCh\t'{path}'  aS\nloot; SELECT 2"))?
            }
            "parameter" => {
                sql::execute(db, "ATTACH DATABASE ?1 AS loot", &[Value::Text(c.path.clone())])?;
            }
            "expression" => {
                let (head, tail) = path.split_at(path.len() / 2);
                sql::execute(db, &format!("ATTACH '{head}' || '{tail}' AS loot"), &[])?;
            }
            _ => {
                sql::execute(db, &format!("ATTACH DATABASE '{path}' AS loot"), &[])?;
            }
        }
        sql::execute_batch(db, "CREATE TABLE loot.pwned (x); DROP TABLE IF EXISTS loot.journal")?;
        Ok(Verdict::pass(format!("ESCAPED: attached and wrote {}", c.path)))
    }
}

upshift_sdk::export_verifier!(Attach);
upshift_sdk::capabilities!(sql);
