//! Hostile verifier: recurses without bound. The host's stack limit must stop it.

use upshift_sdk::{Check, NoConfig, PluginError, Verdict, Verifier};

#[allow(unconditional_recursion)]
fn dive(depth: u64) -> u64 {
    std::hint::black_box(dive(std::hint::black_box(depth + 1))).wrapping_add(1)
}

pub struct Dive;

impl Verifier for Dive {
    type Config = NoConfig;

    fn verify(_: Check, _: &NoConfig) -> Result<Verdict, PluginError> {
        Ok(Verdict::pass(format!("ESCAPED: returned from depth {}", dive(0))))
    }
}

upshift_sdk::export_verifier!(Dive);
