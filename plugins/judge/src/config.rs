//! The judge's config, as the spec's `config` table gives it, with its defaults (Kayenta's where
//! Kayenta has one) and the checks `validate-config` runs before anything is applied.

use upshift_sdk::PluginError;
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
    #[serde(default)]
    pub effect_size: EffectSize,
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

fn invalid(message: String) -> PluginError {
    PluginError::invalid_config(format!("judge: {message}"))
}

impl Config {
    /// Everything the types cannot say: one source, queries present, numbers in range, names
    /// unique, weights that add up.
    pub fn check(&self) -> Result<(), PluginError> {
        match (&self.prometheus, &self.file) {
            (Some(_), Some(_)) => return Err(invalid("give `prometheus` or `file`, not both".into())),
            (None, None) => {
                return Err(invalid("give `prometheus` (a URL) or `file` (a granted file of samples)".into()));
            }
            (Some(url), None) => {
                upshift_sdk::http::parse_url(url).map_err(|e| invalid(format!("`prometheus`: {}", e.message)))?;
            }
            (None, Some(_)) => {}
        }
        if self.metrics.is_empty() {
            return Err(invalid("`metrics` is empty".into()));
        }
        if self.metrics.len() > MAX_METRICS {
            return Err(invalid(format!("{} metrics; at most {MAX_METRICS}", self.metrics.len())));
        }
        if self.step_seconds == 0 || self.window_seconds < self.step_seconds {
            return Err(invalid(format!(
                "`step_seconds` ({}) must be at least 1 and at most `window_seconds` ({})",
                self.step_seconds, self.window_seconds
            )));
        }
        if self.window_seconds / self.step_seconds >= MAX_SAMPLES_PER_SERIES {
            return Err(invalid(format!(
                "`window_seconds` / `step_seconds` gives {} samples a series; at most {}",
                self.window_seconds / self.step_seconds + 1,
                MAX_SAMPLES_PER_SERIES
            )));
        }
        if !(0.0..=100.0).contains(&self.marginal_score)
            || !(0.0..=100.0).contains(&self.pass_score)
            || self.marginal_score > self.pass_score
        {
            return Err(invalid(format!(
                "scores need 0 ≤ marginal_score ({}) ≤ pass_score ({}) ≤ 100",
                self.marginal_score, self.pass_score
            )));
        }
        if !(self.confidence > 0.5 && self.confidence < 1.0) {
            return Err(invalid(format!("`confidence` must lie between 0.5 and 1, got {}", self.confidence)));
        }
        if !(self.tolerance >= 0.0 && self.tolerance.is_finite()) {
            return Err(invalid(format!("`tolerance` must be 0 or more, got {}", self.tolerance)));
        }
        if self.min_samples == 0 {
            return Err(invalid("`min_samples` must be at least 1".into()));
        }
        let mut names: Vec<&str> = Vec::new();
        for m in &self.metrics {
            if m.name.trim().is_empty() {
                return Err(invalid("a metric has an empty `name`".into()));
            }
            if names.contains(&m.name.as_str()) {
                return Err(invalid(format!("two metrics are named {:?}", m.name)));
            }
            names.push(&m.name);
            self.check_metric(m).map_err(|why| invalid(format!("metric {:?}: {why}", m.name)))?;
        }
        self.check_weights()
    }

    fn check_metric(&self, m: &Metric) -> Result<(), String> {
        if self.prometheus.is_some() && (m.baseline.is_none() || m.canary.is_none()) {
            return Err("needs `baseline` and `canary` queries to ask Prometheus".into());
        }
        if !(m.outliers.factor > 0.0 && m.outliers.factor.is_finite()) {
            return Err(format!("outliers.factor must be above 0, got {}", m.outliers.factor));
        }
        let gate = m.effect_size.gate();
        for (field, value) in [
            ("allowed_increase", gate.allowed_increase),
            ("allowed_decrease", gate.allowed_decrease),
            ("critical_increase", gate.critical_increase),
            ("critical_decrease", gate.critical_decrease),
        ] {
            let fine = match gate.measure {
                EffectMeasure::MeanRatio => value > 0.0 && value.is_finite(),
                EffectMeasure::Cles => (0.0..=1.0).contains(&value),
            };
            if !fine {
                let range = match gate.measure {
                    EffectMeasure::MeanRatio => "above 0 (a ratio)",
                    EffectMeasure::Cles => "between 0 and 1 (a share of pairs)",
                };
                return Err(format!("effect_size.{field} must be {range}, got {value}"));
            }
        }
        if let Some(alpha) = m.distribution.alpha
            && !(alpha > 0.0 && alpha < 1.0)
        {
            return Err(format!("distribution.alpha must lie between 0 and 1, got {alpha}"));
        }
        if !(0.0..=1.0).contains(&m.distribution.min_distance) {
            return Err(format!(
                "distribution.min_distance must lie between 0 and 1, got {}",
                m.distribution.min_distance
            ));
        }
        if let Some(w) = m.weight
            && !(0.0..=100.0).contains(&w)
        {
            return Err(format!("weight must lie between 0 and 100, got {w}"));
        }
        Ok(())
    }

    /// Metrics of one group agree on its weight; weights add up to at most 100, and to exactly 100
    /// when every group has one.
    fn check_weights(&self) -> Result<(), PluginError> {
        let groups = self.group_weights().map_err(invalid)?;
        let given: f64 = groups.iter().filter_map(|(_, w)| *w).sum();
        let all_given = groups.iter().all(|(_, w)| w.is_some());
        if given > 100.0 + 1e-9 || (all_given && (given - 100.0).abs() > 1e-9) {
            return Err(invalid(format!(
                "group weights add up to {given}; they must add up to 100 (or stay below it, leaving the rest to groups without a weight)"
            )));
        }
        Ok(())
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> Config {
        upshift_sdk::parse_config(json).unwrap()
    }

    const ONE: &str =
        r#"{"prometheus": "http://127.0.0.1:9090", "metrics": [{"name": "latency", "baseline": "b", "canary": "c"}]}"#;

    #[test]
    fn defaults_are_kayentas() {
        let c = config(ONE);
        c.check().unwrap();
        assert_eq!((c.confidence, c.tolerance, c.pass_score, c.marginal_score), (0.98, 0.25, 95.0, 75.0));
        let m = &c.metrics[0];
        assert_eq!((m.direction, m.nan_strategy, m.outliers.factor()), (Direction::Either, NanStrategy::Remove, None));
        assert_eq!(m.effect_size.gate().allowed_increase, 1.0);
        assert_eq!(m.distribution.test, DistributionTest::Off);
        assert!((c.alpha(m) - 0.02).abs() < 1e-15);
    }

    #[test]
    fn cles_thresholds_default_to_one_half() {
        let gate = EffectSize { measure: EffectMeasure::Cles, ..Default::default() }.gate();
        assert_eq!((gate.allowed_increase, gate.critical_decrease), (0.5, 0.5));
    }

    #[test]
    fn one_source_and_queries_are_required() {
        let both = ONE.replace(r#""prometheus""#, r#""file": "/x.json", "prometheus""#);
        assert!(config(&both).check().unwrap_err().message.contains("not both"));
        let none = r#"{"metrics": [{"name": "a"}]}"#;
        assert!(config(none).check().unwrap_err().message.contains("give `prometheus`"));
        let no_query = r#"{"prometheus": "http://p:9090", "metrics": [{"name": "a", "baseline": "b"}]}"#;
        assert!(config(no_query).check().unwrap_err().message.contains("`canary`"));
        let replay = r#"{"file": "/replay/x.json", "metrics": [{"name": "a"}]}"#;
        config(replay).check().unwrap();
    }

    #[test]
    fn weights_must_agree_and_add_up() {
        let c = config(
            r#"{"file": "/f.json", "metrics": [
                {"name": "a", "group": "g", "weight": 60}, {"name": "b", "group": "g", "weight": 50}]}"#,
        );
        assert!(c.check().unwrap_err().message.contains("two weights"));
        let c = config(r#"{"file": "/f.json", "metrics": [{"name": "a", "weight": 60}, {"name": "b", "weight": 30}]}"#);
        assert!(c.check().unwrap_err().message.contains("add up to 90"));
        let c = config(r#"{"file": "/f.json", "metrics": [{"name": "a", "weight": 60}, {"name": "b"}]}"#);
        c.check().unwrap();
        assert_eq!(c.group_weights().unwrap(), vec![("a".to_string(), Some(60.0)), ("b".to_string(), None)]);
    }

    #[test]
    fn numbers_out_of_range_are_named() {
        let bad = [
            (r#""confidence": 1.5"#, "confidence"),
            (r#""pass_score": 50, "marginal_score": 60"#, "marginal_score"),
            (r#""step_seconds": 0"#, "step_seconds"),
            (r#""window_seconds": 100000, "step_seconds": 1"#, "at most 5000"),
            (r#""min_samples": 0"#, "min_samples"),
        ];
        for (field, named) in bad {
            let json = ONE.replacen('{', &format!("{{{field}, "), 1);
            let err = config(&json).check().unwrap_err();
            assert!(err.message.contains(named), "{field}: {}", err.message);
        }
        let metric = ONE.replace(r#""canary": "c""#, r#""canary": "c", "distribution": {"test": "ks", "alpha": 2}"#);
        assert!(config(&metric).check().unwrap_err().message.contains("distribution.alpha"));
        let metric = ONE.replace(
            r#""canary": "c""#,
            r#""canary": "c", "effect_size": {"measure": "cles", "allowed_increase": 1.5}"#,
        );
        assert!(config(&metric).check().unwrap_err().message.contains("allowed_increase"));
    }
}
