//! The judge's config, as the spec's `config` table gives it, with its defaults (Kayenta's where
//! Kayenta has one); `check.rs` holds what `validate-config` checks beyond the types.

mod check;

use upshift_sdk::serde::Deserialize;

use crate::prepare::NanStrategy;

/// Kayenta's NetflixACAJudge tolerance: the interval must clear ±25 % of the estimate.
pub const DEFAULT_TOLERANCE: f64 = 0.25;
/// Kayenta's NetflixACAJudge confidence level.
pub const DEFAULT_CONFIDENCE: f64 = 0.98;
/// Kayenta's default outlier factor (IQR multiples).
pub const DEFAULT_OUTLIER_FACTOR: f64 = 3.0;
pub const DEFAULT_PASS_SCORE: f64 = 95.0;
pub const DEFAULT_MARGINAL_SCORE: f64 = 75.0;
pub const DEFAULT_WINDOW_SECONDS: u32 = 300;
pub const DEFAULT_STEP_SECONDS: u32 = 10;
/// Below 5 samples a side, the two-sided test at 98 % cannot reject at all (n = m = 4 gives at best
/// p ≈ 0.03): a Pass from fewer would say nothing, so fewer counts as no data.
pub const DEFAULT_MIN_SAMPLES: u32 = 5;
/// Most samples one series may hold: bounds the exact KS computation (n·m lattice points at worst)
/// and what one verification reads.
pub const MAX_SAMPLES_PER_SERIES: u32 = 5_000;
/// Most metrics one judge compares.
pub const MAX_METRICS: usize = 50;

#[derive(Debug, Clone, Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Config {
    /// Prometheus' base URL, e.g. `http://127.0.0.1:9090` (grant its `host:port` in
    /// `grants.network.http`). Give this or `file`.
    #[serde(default)]
    pub prometheus: Option<String>,
    /// A JSON or CSV file of samples as the plugin sees it in a granted folder (e.g.
    /// `/replay/incident.json`): judges recorded data instead of asking Prometheus. Give this or `prometheus`.
    #[serde(default)]
    pub file: Option<String>,
    /// Seconds of data compared, ending at the verification.
    #[serde(default = "default_window")]
    pub window_seconds: u32,
    /// Seconds between two samples of a series (the range query's step).
    #[serde(default = "default_step")]
    pub step_seconds: u32,
    /// The metrics compared; at least one.
    pub metrics: Vec<Metric>,
    /// A score at least this passes.
    #[serde(default = "default_pass")]
    pub pass_score: f64,
    /// A score below this fails; between the two the verdict is inconclusive.
    #[serde(default = "default_marginal")]
    pub marginal_score: f64,
    /// Confidence level of the Mann-Whitney interval.
    #[serde(default = "default_confidence")]
    pub confidence: f64,
    /// The interval must clear this fraction of the estimate, on the side of the change.
    #[serde(default = "default_tolerance")]
    pub tolerance: f64,
    /// Fewer samples than this in a series (after NaN and outlier handling) count as no data.
    #[serde(default = "default_min_samples")]
    pub min_samples: u32,
    /// A granted writable folder, as the plugin sees it: each verification's samples are written
    /// there as a JSON file that `file` can replay.
    #[serde(default)]
    pub record: Option<String>,
}

#[derive(Debug, Clone, Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Metric {
    /// Names the metric in measurements and verdicts (and its samples in a file).
    pub name: String,
    /// PromQL range query of the baseline; `{from}`, `{to}`, `{stage}`, `{stage_index}`, `{rollout}`,
    /// `{attempt}`, `{weight}`, `{window}` and `{step}` are replaced first.
    #[serde(default)]
    pub baseline: Option<String>,
    /// PromQL range query of the canary, templated the same way.
    #[serde(default)]
    pub canary: Option<String>,
    /// Shown with the estimate and interval, e.g. "s".
    #[serde(default)]
    pub unit: Option<String>,
    /// Which change is a regression.
    #[serde(default)]
    pub direction: Direction,
    /// What a NaN sample becomes.
    #[serde(default)]
    pub nan_strategy: NanStrategy,
    /// Outlier removal before comparing: `{ strategy = "remove", factor = 3.0 }`.
    #[serde(default)]
    pub outliers: Outliers,
    /// A High or Low of this metric (past its critical effect size), or no data, fails the whole judgement.
    #[serde(default)]
    pub critical: bool,
    /// No data is a failure of this metric (NodataFail) rather than left out.
    #[serde(default)]
    pub must_have_data: bool,
    /// The group the metric is scored in; default its own name.
    #[serde(default)]
    pub group: Option<String>,
    /// The group's weight in the score (percent); groups without one share what is left of 100.
    #[serde(default)]
    pub weight: Option<f64>,
    /// The effect-size gate of a High or Low: `{ measure = "mean-ratio", allowed_increase = 1.1 }`.
    #[serde(default)]
    pub effect_size: EffectSize,
    /// The distribution test: `{ test = "ks" }`.
    #[serde(default)]
    pub distribution: Distribution,
}

/// Which way of change is a regression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", rename_all = "kebab-case")]
pub enum Direction {
    /// Higher is worse (latency, errors).
    Increase,
    /// Lower is worse (throughput, success rate).
    Decrease,
    /// Both ways are regressions.
    #[default]
    Either,
}

impl Direction {
    pub fn name(self) -> &'static str {
        match self {
            Direction::Increase => "increase",
            Direction::Decrease => "decrease",
            Direction::Either => "either",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Outliers {
    /// `keep` or `remove` the values outside the fences.
    #[serde(default)]
    pub strategy: OutlierStrategy,
    /// Fences at the quartiles ∓ factor × IQR (widened to the 1st/99th percentiles).
    #[serde(default = "default_outlier_factor")]
    pub factor: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", rename_all = "kebab-case")]
pub enum OutlierStrategy {
    #[default]
    Keep,
    Remove,
}

impl Default for Outliers {
    fn default() -> Self {
        Outliers { strategy: OutlierStrategy::Keep, factor: DEFAULT_OUTLIER_FACTOR }
    }
}

impl Outliers {
    /// The factor when outliers are removed.
    pub fn factor(&self) -> Option<f64> {
        (self.strategy == OutlierStrategy::Remove).then_some(self.factor)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct EffectSize {
    /// `mean-ratio` (mean(canary) / mean(baseline)) or `cles` (the share of pairs where the canary is larger).
    #[serde(default)]
    pub measure: EffectMeasure,
    /// A High needs at least this effect (default 1.0 for the mean ratio, 0.5 for CLES: any).
    #[serde(default)]
    pub allowed_increase: Option<f64>,
    /// A Low needs at most this effect.
    #[serde(default)]
    pub allowed_decrease: Option<f64>,
    /// A High of a critical metric is critical from this effect on.
    #[serde(default)]
    pub critical_increase: Option<f64>,
    /// A Low of a critical metric is critical from this effect down.
    #[serde(default)]
    pub critical_decrease: Option<f64>,
}

/// Which effect size gates a High or Low.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", rename_all = "kebab-case")]
pub enum EffectMeasure {
    /// mean(canary) / mean(baseline).
    #[default]
    MeanRatio,
    /// The share of (canary, baseline) pairs where the canary is larger.
    Cles,
}

/// An effect size's thresholds with Kayenta's defaults filled in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EffectGate {
    pub measure: EffectMeasure,
    pub allowed_increase: f64,
    pub allowed_decrease: f64,
    pub critical_increase: f64,
    pub critical_decrease: f64,
}

impl EffectSize {
    pub fn gate(&self) -> EffectGate {
        let neutral = match self.measure {
            EffectMeasure::MeanRatio => 1.0,
            EffectMeasure::Cles => 0.5,
        };
        EffectGate {
            measure: self.measure,
            allowed_increase: self.allowed_increase.unwrap_or(neutral),
            allowed_decrease: self.allowed_decrease.unwrap_or(neutral),
            critical_increase: self.critical_increase.unwrap_or(neutral),
            critical_decrease: self.critical_decrease.unwrap_or(neutral),
        }
    }
}

/// The distribution test, beyond Kayenta: it can classify a metric High (or Low) on its own.
#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Distribution {
    /// `ks` (two-sample Kolmogorov-Smirnov, one-sided along `direction`) or `off`.
    #[serde(default)]
    pub test: DistributionTest,
    /// The test's significance level; default 1 − `confidence`.
    #[serde(default)]
    pub alpha: Option<f64>,
    /// The smallest gap between the two empirical CDFs (0 to 1) that counts, whatever the p-value.
    #[serde(default)]
    pub min_distance: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", rename_all = "kebab-case")]
pub enum DistributionTest {
    #[default]
    Off,
    Ks,
}

fn default_window() -> u32 {
    DEFAULT_WINDOW_SECONDS
}
fn default_step() -> u32 {
    DEFAULT_STEP_SECONDS
}
fn default_pass() -> f64 {
    DEFAULT_PASS_SCORE
}
fn default_marginal() -> f64 {
    DEFAULT_MARGINAL_SCORE
}
fn default_confidence() -> f64 {
    DEFAULT_CONFIDENCE
}
fn default_tolerance() -> f64 {
    DEFAULT_TOLERANCE
}
fn default_min_samples() -> u32 {
    DEFAULT_MIN_SAMPLES
}
fn default_outlier_factor() -> f64 {
    DEFAULT_OUTLIER_FACTOR
}

impl Metric {
    /// The group this metric is scored in.
    pub fn group(&self) -> &str {
        self.group.as_deref().unwrap_or(&self.name)
    }
}

impl Config {
    /// Every group in order of first appearance, with its weight if one is given.
    pub fn group_weights(&self) -> Result<Vec<(String, Option<f64>)>, String> {
        let mut groups: Vec<(String, Option<f64>)> = Vec::new();
        for m in &self.metrics {
            let group = m.group();
            match groups.iter_mut().find(|(g, _)| g == group) {
                None => groups.push((group.to_string(), m.weight)),
                Some((_, existing)) => match (*existing, m.weight) {
                    (Some(a), Some(b)) if a != b => {
                        return Err(format!("group {group:?} is given two weights, {a} and {b}"));
                    }
                    (None, Some(b)) => *existing = Some(b),
                    _ => {}
                },
            }
        }
        Ok(groups)
    }

    /// The significance level of a metric's distribution test.
    pub fn alpha(&self, m: &Metric) -> f64 {
        m.distribution.alpha.unwrap_or(1.0 - self.confidence)
    }
}
