//! What `validate-config` checks beyond the types, before anything is applied: one source,
//! queries present, numbers in range, metric names unique, group weights that agree and add up.

use upshift_sdk::PluginError;

use super::{Config, EffectMeasure, MAX_METRICS, MAX_SAMPLES_PER_SERIES, Metric};

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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Direction, DistributionTest, EffectSize};
    use crate::prepare::NanStrategy;

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
