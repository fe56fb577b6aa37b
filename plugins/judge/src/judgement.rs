//! One judgement from the samples: every metric classified, the score, the decision. Pure (no
//! I/O), so the bench and the tests call it natively with the samples a file or Prometheus gives.

use upshift_sdk::PluginError;

use crate::classify::{Classification, Rules, classify};
use crate::config::{Config, Metric};
use crate::decide::{Decision, decide};
use crate::score::{Score, Scored, score};
use crate::source::Samples;

#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    /// One per metric, in the config's order.
    pub classes: Vec<Classification>,
    pub score: Score,
    pub decision: Decision,
}

/// What classifying `m` needs from the config.
pub fn rules(config: &Config, m: &Metric) -> Rules {
    Rules {
        direction: m.direction,
        nan: m.nan_strategy,
        outlier_factor: m.outliers.factor(),
        critical: m.critical,
        must_have_data: m.must_have_data,
        effect: m.effect_size.gate(),
        distribution: m.distribution.test,
        alpha: config.alpha(m),
        min_distance: m.distribution.min_distance,
        confidence: config.confidence,
        tolerance: config.tolerance,
        min_samples: config.min_samples as usize,
    }
}

/// Judges `samples` (one per metric of `config`, in order).
pub fn judge(config: &Config, samples: &[Samples]) -> Result<Judged, PluginError> {
    if samples.len() != config.metrics.len() {
        return Err(PluginError::internal(format!(
            "judge: {} sample sets for {} metrics",
            samples.len(),
            config.metrics.len()
        )));
    }
    let weights = config.group_weights().map_err(|e| PluginError::invalid_config(format!("judge: {e}")))?;
    let classes: Vec<Classification> =
        config.metrics.iter().zip(samples).map(|(m, s)| classify(&s.baseline, &s.canary, &rules(config, m))).collect();
    let scored: Vec<Scored<'_>> = config
        .metrics
        .iter()
        .zip(&classes)
        .map(|(m, class)| Scored { name: &m.name, group: m.group(), class })
        .collect();
    let score = score(&scored, &weights);
    let decision = decide(&score, &scored, config.pass_score, config.marginal_score);
    Ok(Judged { classes, score, decision })
}
