//! Hostile verifier: a query that never ends, so the host would spend its time inside SQLite where
//! the wasm deadline does not reach.

use upshift_sdk::serde::Deserialize;
use upshift_sdk::sql;
use upshift_sdk::{Check, PluginError, Verdict, Verifier};

#[derive(Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Config {
    pub database: String,
    /// `recursive` (an endless recursive CTE), `batch` (the same in a script) or `cross-join`
    /// (ten billion rows from a finite CTE).
    pub technique: String,
}

const RECURSIVE: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
const CROSS_JOIN: &str = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) \
                          SELECT count(*) FROM n AS a, n AS b";

pub struct Forever;

impl Verifier for Forever {
    type Config = Config;

    fn verify(_: Check, c: &Config) -> Result<Verdict, PluginError> {
        match c.technique.as_str() {
            "batch" => sql::execute_batch(&c.database, RECURSIVE)?,
            "cross-join" => {
                sql::query(&c.database, CROSS_JOIN, &[])?;
            }
            _ => {
                sql::query(&c.database, RECURSIVE, &[])?;
            }
        }
        Ok(Verdict::pass("ESCAPED: the endless query ended"))
    }
}

upshift_sdk::export_verifier!(Forever);
upshift_sdk::capabilities!(sql);
