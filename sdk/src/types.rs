//! The shared contract types, re-exported from the bindings with constructors that read well.

pub use crate::bindings::host::upshift::plugin::types::{
    ErrorKind, Measurement, Outcome, PluginError, RolloutInfo, Stage, Verdict,
};

impl Verdict {
    fn new(outcome: Outcome, reason: impl Into<String>) -> Self {
        Verdict { outcome, reason: reason.into(), measurements: Vec::new() }
    }

    /// The stage is healthy.
    pub fn pass(reason: impl Into<String>) -> Self {
        Self::new(Outcome::Pass, reason)
    }

    /// The stage regressed.
    pub fn fail(reason: impl Into<String>) -> Self {
        Self::new(Outcome::Fail, reason)
    }

    /// Not enough signal to judge. Never counts as a pass.
    pub fn inconclusive(reason: impl Into<String>) -> Self {
        Self::new(Outcome::Inconclusive, reason)
    }

    /// Adds a measurement the host records in the audit trail.
    pub fn measure(mut self, name: impl Into<String>, value: f64, unit: &str) -> Self {
        let unit = (!unit.is_empty()).then(|| unit.to_string());
        self.measurements.push(Measurement { name: name.into(), value, unit });
        self
    }
}

impl RolloutInfo {
    /// A rollout of `units` units named `prefix0`, `prefix1`... from version 1 to 2, for strategy
    /// unit tests.
    pub fn example(prefix: &str, units: usize, traffic_split: bool) -> Self {
        RolloutInfo {
            id: "example-1".into(),
            name: "example".into(),
            from_version: "1".into(),
            to_version: "2".into(),
            units: (0..units).map(|i| format!("{prefix}{i}")).collect(),
            traffic_split,
        }
    }
}

impl Stage {
    /// A stage that moves nothing yet: set `weight`/`units`, bake, verify, approval with the builders.
    pub fn new(name: impl Into<String>) -> Self {
        Stage { name: name.into(), weight: None, units: Vec::new(), bake_seconds: 0, verify: false, approval: false }
    }

    /// Percent of traffic on the new version once this stage is applied.
    pub fn weight(mut self, percent: u8) -> Self {
        self.weight = Some(percent.min(100));
        self
    }

    /// Units moved to the new version in this stage.
    pub fn units(mut self, units: Vec<String>) -> Self {
        self.units = units;
        self
    }

    /// Seconds to wait after applying before verification.
    pub fn bake(mut self, seconds: u32) -> Self {
        self.bake_seconds = seconds;
        self
    }

    /// Run the rollout's verifiers after the bake.
    pub fn verified(mut self) -> Self {
        self.verify = true;
        self
    }

    /// Hold for a manual approval before this stage is applied.
    pub fn with_approval(mut self) -> Self {
        self.approval = true;
        self
    }
}
