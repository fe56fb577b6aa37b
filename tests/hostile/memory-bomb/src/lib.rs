//! Hostile verifier: allocates and touches memory in 1 MiB steps until something stops it.
//! The host's memory limit must stop it.

use upshift_sdk::{Check, NoConfig, PluginError, Verdict, Verifier};

pub struct Bomb;

impl Verifier for Bomb {
    type Config = NoConfig;

    fn verify(_: Check, _: &NoConfig) -> Result<Verdict, PluginError> {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(std::hint::black_box(vec![0xA5; 1 << 20]));
            if hoard.len() == usize::MAX {
                return Ok(Verdict::pass("unreachable"));
            }
        }
    }
}

upshift_sdk::export_verifier!(Bomb);
