//! Hostile verifier: spins forever, in `verify` and in `validate-config` (its `check_config`). The
//! host's per-call deadline must stop both.

use upshift_sdk::{Check, NoConfig, PluginError, Verdict, Verifier};

pub struct Spin;

impl Verifier for Spin {
    type Config = NoConfig;

    fn check_config(_: &NoConfig) -> Result<(), PluginError> {
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }

    fn verify(_: Check, _: &NoConfig) -> Result<Verdict, PluginError> {
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
}

upshift_sdk::export_verifier!(Spin);
