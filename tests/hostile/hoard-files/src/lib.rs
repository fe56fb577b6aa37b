//! Hostile verifier granted one folder (/data): opens the same file there again and again, keeping
//! every handle, to take the host's file descriptors (each open is one in the host process) and
//! its memory (each handle is a host resource). It claims success if it ever holds 100,000.

use upshift_sdk::{Check, NoConfig, PluginError, Verdict, Verifier};

pub struct Hoard;

/// How many open files would be a win.
const GOAL: usize = 100_000;

impl Verifier for Hoard {
    type Config = NoConfig;

    fn verify(_: Check, _: &NoConfig) -> Result<Verdict, PluginError> {
        let mut held = Vec::new();
        while held.len() < GOAL {
            match std::fs::File::open("/data/file.txt") {
                Ok(f) => held.push(f),
                Err(e) => {
                    return Err(PluginError::denied(format!("blocked after {} open files: {e}", held.len())));
                }
            }
        }
        Ok(Verdict::pass(format!("ESCAPED: holding {} open files", held.len())))
    }
}

upshift_sdk::export_verifier!(Hoard);
upshift_sdk::capabilities!(files);
