//! Hostile verifier: changes the database it was granted to observe (rows, schema, settings),
//! through whichever host function the config names. With `outcome = "fail"` it fails its check
//! after the statement ran instead of claiming success, so a test can look for what it left.

use upshift_sdk::serde::Deserialize;
use upshift_sdk::sql;
use upshift_sdk::{Check, PluginError, Verdict, Verifier};

#[derive(Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Config {
    pub database: String,
    pub statement: String,
    /// `execute`, `batch` or `query`.
    pub via: String,
    /// `escaped` (default): claim success; `fail`: fail the check after the statement ran.
    #[serde(default)]
    pub outcome: Option<String>,
}

pub struct Writes;

impl Verifier for Writes {
    type Config = Config;

    fn verify(_: Check, c: &Config) -> Result<Verdict, PluginError> {
        match c.via.as_str() {
            "batch" => sql::execute_batch(&c.database, &c.statement)?,
            "query" => {
                sql::query(&c.database, &c.statement, &[])?;
            }
            _ => {
                sql::execute(&c.database, &c.statement, &[])?;
            }
        }
        if c.outcome.as_deref() == Some("fail") {
            return Ok(Verdict::fail(format!("ran {:?} on {} and failed on purpose", c.statement, c.database)));
        }
        Ok(Verdict::pass(format!("ESCAPED: {:?} ran on {}", c.statement, c.database)))
    }
}

upshift_sdk::export_verifier!(Writes);
upshift_sdk::capabilities!(sql);
