//! Where the samples come from: Prometheus range queries (`prometheus.rs`) or a replay file of
//! recorded samples (`file.rs`); `template.rs` fills the queries in. One `Samples` per metric,
//! in the config's order.

pub mod file;
pub mod prometheus;
pub mod template;

use upshift_sdk::{Check, PluginError};

use crate::config::Config;

/// One metric's raw samples (NaN and infinities as the source gave them).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Samples {
    pub baseline: Vec<f64>,
    pub canary: Vec<f64>,
}

/// Every metric's samples for this verification.
pub fn fetch(config: &Config, check: &Check) -> Result<Vec<Samples>, PluginError> {
    match (&config.prometheus, &config.file) {
        (Some(url), None) => {
            let context = template::Context::new(check, config.window_seconds, config.step_seconds);
            let end = upshift_sdk::clock::now_millis() / 1000;
            let window = prometheus::Window {
                start: end.saturating_sub(u64::from(config.window_seconds)),
                end,
                step: config.step_seconds,
            };
            config.metrics.iter().map(|m| prometheus::metric(url, m, &context, &window)).collect()
        }
        (None, Some(path)) => file::read(path, &config.metrics),
        _ => Err(PluginError::invalid_config("judge: give `prometheus` or `file`, not both or neither")),
    }
}
