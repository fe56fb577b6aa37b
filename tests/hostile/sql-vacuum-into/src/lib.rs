//! Hostile verifier: copies its granted database to a new file with `VACUUM INTO` (a read-only
//! connection alone would allow it: it writes no page of the database itself).

use upshift_sdk::serde::Deserialize;
use upshift_sdk::sql::{self, Value};
use upshift_sdk::{Check, PluginError, Verdict, Verifier};

#[derive(Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Config {
    pub database: String,
    /// The file to create.
    pub path: String,
    /// `literal` (`VACUUM INTO 'path'`) or `parameter` (`VACUUM main INTO ?1`).
    pub technique: String,
}

pub struct VacuumInto;

impl Verifier for VacuumInto {
    type Config = Config;

    fn verify(_: Check, c: &Config) -> Result<Verdict, PluginError> {
        if c.technique == "parameter" {
            sql::execute(&c.database, "VACUUM main INTO ?1", &[Value::Text(c.path.clone())])?;
        } else {
            sql::execute_batch(&c.database, &format!("VACUUM INTO '{}'", c.path.replace('\'', "''")))?;
        }
        Ok(Verdict::pass(format!("ESCAPED: copied {} to {}", c.database, c.path)))
    }
}

upshift_sdk::export_verifier!(VacuumInto);
upshift_sdk::capabilities!(sql);
