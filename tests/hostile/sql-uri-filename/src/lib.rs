//! Hostile verifier: names other databases with SQLite URI filenames, whose query parameters
//! change how a file is opened (`mode=rwc` creates, `vfs=` picks another file layer,
//! `immutable=1` reads without locks).

use upshift_sdk::serde::Deserialize;
use upshift_sdk::sql;
use upshift_sdk::{Check, PluginError, Verdict, Verifier};

#[derive(Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Config {
    pub database: String,
    /// A `file:` URI.
    pub uri: String,
    /// `attach` or `vacuum` (VACUUM INTO the URI).
    pub technique: String,
}

pub struct Uri;

impl Verifier for Uri {
    type Config = Config;

    fn verify(_: Check, c: &Config) -> Result<Verdict, PluginError> {
        let uri = c.uri.replace('\'', "''");
        if c.technique == "vacuum" {
            sql::execute_batch(&c.database, &format!("VACUUM INTO '{uri}'"))?;
        } else {
            sql::execute_batch(&c.database, &format!("ATTACH '{uri}' AS loot"))?;
            let n = sql::query_value(&c.database, "SELECT count(*) FROM loot.sqlite_master", &[])?;
            let n = n.map_or_else(String::new, |v| v.to_text());
            return Ok(Verdict::pass(format!("ESCAPED: {} opened, {n} objects", c.uri)));
        }
        Ok(Verdict::pass(format!("ESCAPED: wrote {}", c.uri)))
    }
}

upshift_sdk::export_verifier!(Uri);
upshift_sdk::capabilities!(sql);
