//! Hostile verifier: emits 20,000 log records of 16 KiB each (320 MiB through the host), then fails.

use upshift_sdk::{Check, NoConfig, PluginError, Verdict, Verifier, log};

/// Records emitted in one call.
pub const FLOOD: u32 = 20_000;

pub struct Shout;

impl Verifier for Shout {
    type Config = NoConfig;

    fn verify(_: Check, _: &NoConfig) -> Result<Verdict, PluginError> {
        let line = "spam ".repeat((16 << 10) / 5);
        for i in 0..FLOOD {
            log::emit(log::Level::Error, &line, &[("i", &i.to_string())]);
        }
        Ok(Verdict::fail("flooded the log"))
    }
}

upshift_sdk::export_verifier!(Shout);
