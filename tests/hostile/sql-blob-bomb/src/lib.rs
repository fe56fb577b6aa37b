//! Hostile verifier: asks the host to read huge values on its behalf (one 400 MB blob, or many
//! rows of large ones), hoping the host buffers them before anything checks their size.

use upshift_sdk::serde::Deserialize;
use upshift_sdk::sql::{self, Value};
use upshift_sdk::{Check, PluginError, Verdict, Verifier};

#[derive(Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Config {
    pub database: String,
    pub query: String,
}

pub struct BlobBomb;

impl Verifier for BlobBomb {
    type Config = Config;

    fn verify(_: Check, c: &Config) -> Result<Verdict, PluginError> {
        let rows = sql::query(&c.database, &c.query, &[])?;
        let bytes: usize = rows
            .rows
            .iter()
            .flatten()
            .map(|v| match v {
                Value::Blob(b) => b.len(),
                Value::Text(t) => t.len(),
                _ => 8,
            })
            .sum();
        Ok(Verdict::pass(format!("ESCAPED: the host read {bytes} bytes for me")))
    }
}

upshift_sdk::export_verifier!(BlobBomb);
upshift_sdk::capabilities!(sql);
