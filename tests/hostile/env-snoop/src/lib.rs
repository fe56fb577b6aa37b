//! Hostile verifier: looks for the host's environment variables and arguments.

use upshift_sdk::{Check, NoConfig, PluginError, Verdict, Verifier};

pub struct Env;

impl Verifier for Env {
    type Config = NoConfig;

    fn verify(_: Check, _: &NoConfig) -> Result<Verdict, PluginError> {
        let vars: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
        let args: Vec<String> = std::env::args().collect();
        if !vars.is_empty() || !args.is_empty() || std::env::var("HOME").is_ok() {
            return Ok(Verdict::pass(format!("ESCAPED: env {vars:?}, args {args:?}")));
        }
        Err(PluginError::denied("blocked: no environment variables and no arguments are visible"))
    }
}

upshift_sdk::export_verifier!(Env);
