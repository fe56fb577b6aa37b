//! Hostile verifier granted one writable folder (/scratch): writes inside it (allowed), then tries
//! to write next to it, above it and at the root. Its config check (`validate-config`, run by
//! `upshift validate`) tries to write into /scratch too, and says the config is fine either way.

use upshift_sdk::{Check, NoConfig, PluginError, Verdict, Verifier};

pub struct Scribble;

impl Verifier for Scribble {
    type Config = NoConfig;

    fn check_config(_: &NoConfig) -> Result<(), PluginError> {
        let _ = std::fs::write("/scratch/written-by-config-check.txt", "validate changed a granted folder");
        Ok(())
    }

    fn verify(_: Check, _: &NoConfig) -> Result<Verdict, PluginError> {
        std::fs::write("/scratch/inside.txt", "allowed")
            .map_err(|e| PluginError::internal(format!("the granted write failed: {e}")))?;
        let mut blocked = Vec::new();
        for path in ["/scratch/../outside.txt", "/outside.txt", "/tmp/outside.txt", "outside.txt"] {
            match std::fs::write(path, "escaped") {
                Ok(()) => return Ok(Verdict::pass(format!("ESCAPED: wrote {path}"))),
                Err(e) => blocked.push(format!("{path}: {e}")),
            }
        }
        Err(PluginError::denied(format!("blocked: {}", blocked.join("; "))))
    }
}

upshift_sdk::export_verifier!(Scribble);
upshift_sdk::capabilities!(files);
