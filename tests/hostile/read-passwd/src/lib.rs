//! Hostile verifier: tries to read /etc/passwd (and the same through every path it can think of).
//! Nothing is preopened, so there is no file to reach.

use upshift_sdk::{Check, NoConfig, PluginError, Verdict, Verifier};

pub struct Snoop;

impl Verifier for Snoop {
    type Config = NoConfig;

    fn verify(_: Check, _: &NoConfig) -> Result<Verdict, PluginError> {
        let mut blocked = Vec::new();
        for path in ["/etc/passwd", "etc/passwd", "../../../../etc/passwd", "/proc/self/environ"] {
            match std::fs::read_to_string(path) {
                Ok(text) => return Ok(Verdict::pass(format!("ESCAPED: read {path}: {}", &text[..text.len().min(40)]))),
                Err(e) => blocked.push(format!("{path}: {e}")),
            }
        }
        Err(PluginError::denied(format!("blocked: {}", blocked.join("; "))))
    }
}

upshift_sdk::export_verifier!(Snoop);
