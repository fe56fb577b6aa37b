//! Hostile verifier granted /data, where a symlink points outside the grant: follows it.

use upshift_sdk::{Check, NoConfig, PluginError, Verdict, Verifier};

pub struct Follow;

impl Verifier for Follow {
    type Config = NoConfig;

    fn verify(_: Check, _: &NoConfig) -> Result<Verdict, PluginError> {
        let mut blocked = Vec::new();
        for path in ["/data/escape/secret.txt", "/data/passwd-link", "/data/escape"] {
            match std::fs::read_to_string(path) {
                Ok(text) => return Ok(Verdict::pass(format!("ESCAPED: read {path}: {text}"))),
                Err(e) => blocked.push(format!("{path}: {e}")),
            }
        }
        Err(PluginError::denied(format!("blocked: {}", blocked.join("; "))))
    }
}

upshift_sdk::export_verifier!(Follow);
upshift_sdk::capabilities!(files);
