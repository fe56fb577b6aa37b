//! Hostile verifier: spins forever in `verify`, and in `validate-config` too when its config says
//! `spin_in_check = true`. The host's per-call deadline must stop both.

use upshift_sdk::serde::Deserialize;
use upshift_sdk::{Check, PluginError, Verdict, Verifier};

#[derive(Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Config {
    /// Spin in `check_config` (the host's `validate-config`) as well.
    #[serde(default)]
    pub spin_in_check: bool,
}

pub struct Spin;

fn spin() -> ! {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

impl Verifier for Spin {
    type Config = Config;

    fn check_config(config: &Config) -> Result<(), PluginError> {
        if config.spin_in_check {
            spin();
        }
        Ok(())
    }

    fn verify(_: Check, _: &Config) -> Result<Verdict, PluginError> {
        spin()
    }
}

upshift_sdk::export_verifier!(Spin);
