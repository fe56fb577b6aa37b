//! Verifier `judge`: a statistical canary judge in the manner of Kayenta's NetflixACAJudge. For each
//! metric it compares the canary's samples with the baseline's over the same window (Prometheus
//! range queries, or a replay file): the two-sided Mann–Whitney test at 98 % with the Hodges–Lehmann
//! estimate and interval against a tolerance band and an effect-size gate, plus (beyond Kayenta) a
//! one-sided Kolmogorov–Smirnov test that catches a heavier tail at an unchanged median. The
//! classifications (High, Low, Pass, Nodata, NodataFail, Error) are scored by group weights; the
//! score decides pass, inconclusive or fail, and every number behind it is a measurement.
//!
//! The files, one job each: `config` (what the spec says), `source/` (samples), `prepare` (NaN,
//! outliers), `stats/` (the statistics, native), `classify` (one metric), `score` (the weighted
//! sum), `decide` (the verdict), `judgement` (all of it from samples), `measurements` (what the
//! verdict records), `record` (replay files).

pub mod classify;
pub mod config;
pub mod decide;
pub mod judgement;
pub mod measurements;
pub mod prepare;
pub mod record;
pub mod score;
pub mod source;
pub mod stats;

use upshift_sdk::{Check, PluginError, Verdict, Verifier, log};

pub use config::Config;

pub struct Judge;

impl Verifier for Judge {
    type Config = Config;

    fn check_config(config: &Config) -> Result<(), PluginError> {
        config.check()
    }

    fn verify(check: Check, config: &Config) -> Result<Verdict, PluginError> {
        config.check()?;
        let samples = source::fetch(config, &check)?;
        if let Some(dir) = &config.record {
            match record::write(dir, &check, &config.metrics, &samples) {
                Ok(path) => log::info(&format!("judge: samples recorded in {path}")),
                Err(why) => log::warn(&format!("judge: samples not recorded: {why}")),
            }
        }
        let judged = judgement::judge(config, &samples)?;
        Ok(measurements::verdict(config, &judged))
    }
}

upshift_sdk::export_verifier!(Judge);
upshift_sdk::capabilities!(network, files);
