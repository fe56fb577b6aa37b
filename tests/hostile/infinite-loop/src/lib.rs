//! Hostile verifier: spins forever. The host's per-call deadline must stop it.

use upshift_sdk::{Check, NoConfig, PluginError, Verdict, Verifier};

pub struct Spin;

impl Verifier for Spin {
    type Config = NoConfig;

    fn verify(_: Check, _: &NoConfig) -> Result<Verdict, PluginError> {
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
}

upshift_sdk::export_verifier!(Spin);
