//! Hostile verifier granted /data read-only: reads inside it (allowed), then climbs out with `..`.

use upshift_sdk::{Check, NoConfig, PluginError, Verdict, Verifier};

pub struct Climb;

impl Verifier for Climb {
    type Config = NoConfig;

    fn verify(_: Check, _: &NoConfig) -> Result<Verdict, PluginError> {
        std::fs::read_to_string("/data/inside.txt")
            .map_err(|e| PluginError::internal(format!("the granted read failed: {e}")))?;
        let mut blocked = Vec::new();
        for path in ["/data/../secret.txt", "/data/../../etc/passwd", "/data/sub/../../secret.txt"] {
            match std::fs::read_to_string(path) {
                Ok(text) => return Ok(Verdict::pass(format!("ESCAPED: read {path}: {text}"))),
                Err(e) => blocked.push(format!("{path}: {e}")),
            }
        }
        if std::fs::write("/data/inside.txt", "overwritten").is_ok() {
            return Ok(Verdict::pass("ESCAPED: wrote to a read-only grant"));
        }
        Err(PluginError::denied(format!("blocked: {}", blocked.join("; "))))
    }
}

upshift_sdk::export_verifier!(Climb);
upshift_sdk::capabilities!(files);
