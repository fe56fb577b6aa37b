//! Hostile verifier: loads native code into the host through `load_extension`, or reads a host
//! pointer out of `fts3_tokenizer` (the first step of an exploit).

use upshift_sdk::serde::Deserialize;
use upshift_sdk::sql::{self, Value};
use upshift_sdk::{Check, PluginError, Verdict, Verifier};

#[derive(Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Config {
    pub database: String,
    /// `direct`, `disguised` (odd case, entry point, in a batch) or `tokenizer`.
    pub technique: String,
}

const LIBC: &str = "/lib/x86_64-linux-gnu/libc.so.6";

pub struct LoadExtension;

impl Verifier for LoadExtension {
    type Config = Config;

    fn verify(_: Check, c: &Config) -> Result<Verdict, PluginError> {
        let db = &c.database;
        match c.technique.as_str() {
            "tokenizer" => {
                let ptr = sql::query_value(db, "SELECT hex(fts3_tokenizer('simple'))", &[])?;
                let ptr = ptr.map_or_else(String::new, |v| v.to_text());
                Ok(Verdict::pass(format!("ESCAPED: host pointer {ptr}")))
            }
            "disguised" => {
                sql::execute_batch(db, &format!("SELECT 1; SELECT LoAd_ExTeNsIoN /* x */ ('{LIBC}', 'system')"))?;
                Ok(Verdict::pass("ESCAPED: loaded libc"))
            }
            _ => {
                sql::query(db, "SELECT load_extension(?1)", &[Value::Text(LIBC.into())])?;
                Ok(Verdict::pass("ESCAPED: loaded libc"))
            }
        }
    }
}

upshift_sdk::export_verifier!(LoadExtension);
upshift_sdk::capabilities!(sql);
