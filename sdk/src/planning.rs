//! Helpers for strategies: turning cumulative targets ("25% of units", "weight 50") into the
//! per-stage unit batches the contract carries.

use crate::types::{PluginError, Stage};

/// How many of `total` units make up `percent` percent, rounded up so any non-zero percentage moves
/// at least one unit.
pub fn units_for_percent(total: usize, percent: u8) -> usize {
    (total * usize::from(percent.min(100))).div_ceil(100)
}

/// Builds stages from cumulative targets: each entry says how many units (in order) and what weight
/// should be on the new version once that stage is applied. Each stage carries only the units it
/// adds. Entries that would move nothing new and change no weight are dropped.
pub struct CumulativePlan<'a> {
    units: &'a [String],
    done: usize,
    weight: Option<u8>,
    stages: Vec<Stage>,
}

impl<'a> CumulativePlan<'a> {
    pub fn new(units: &'a [String]) -> Self {
        CumulativePlan { units, done: 0, weight: None, stages: Vec::new() }
    }

    /// Adds a stage reaching `units_total` units and `weight`; `template` gives the name, bake,
    /// verification and approval. Fails when the targets go backwards or past the fleet.
    pub fn reach(&mut self, units_total: usize, weight: Option<u8>, template: Stage) -> Result<(), PluginError> {
        if units_total > self.units.len() {
            return Err(PluginError::invalid_config(format!(
                "stage {:?} asks for {units_total} units but the target has {}",
                template.name,
                self.units.len()
            )));
        }
        if units_total < self.done || weight.zip(self.weight).is_some_and(|(w, prev)| w < prev) {
            return Err(PluginError::invalid_config(format!(
                "stage {:?} goes backwards: stages must only add units and weight",
                template.name
            )));
        }
        if units_total == self.done && weight == self.weight {
            return Ok(());
        }
        let batch = self.units[self.done..units_total].to_vec();
        self.done = units_total;
        if weight.is_some() {
            self.weight = weight;
        }
        self.stages.push(Stage { units: batch, weight, ..template });
        Ok(())
    }

    /// Whether every unit and (for traffic) 100% weight has been reached.
    pub fn complete(&self, traffic: bool) -> bool {
        self.done == self.units.len() && (!traffic || self.weight == Some(100))
    }

    pub fn finish(self) -> Result<Vec<Stage>, PluginError> {
        if self.stages.is_empty() {
            return Err(PluginError::invalid_config("the plan has no stages: nothing would be moved"));
        }
        Ok(self.stages)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("u{i}")).collect()
    }

    #[test]
    fn percent_rounds_up() {
        assert_eq!(units_for_percent(8, 1), 1);
        assert_eq!(units_for_percent(8, 50), 4);
        assert_eq!(units_for_percent(8, 100), 8);
        assert_eq!(units_for_percent(0, 50), 0);
    }

    #[test]
    fn stages_carry_only_their_own_batch() {
        let all = units(4);
        let mut plan = CumulativePlan::new(&all);
        plan.reach(1, None, Stage::new("canary")).unwrap();
        plan.reach(4, None, Stage::new("rest")).unwrap();
        assert!(plan.complete(false));
        let stages = plan.finish().unwrap();
        assert_eq!(stages[0].units, vec!["u0"]);
        assert_eq!(stages[1].units, vec!["u1", "u2", "u3"]);
    }

    #[test]
    fn going_backwards_or_past_the_fleet_is_invalid() {
        let all = units(2);
        let mut plan = CumulativePlan::new(&all);
        plan.reach(2, Some(50), Stage::new("a")).unwrap();
        assert!(plan.reach(1, Some(60), Stage::new("b")).is_err());
        assert!(plan.reach(2, Some(40), Stage::new("c")).is_err());
        assert!(plan.reach(3, Some(60), Stage::new("d")).is_err());
    }

    #[test]
    fn empty_plans_are_refused() {
        let all = units(0);
        assert!(CumulativePlan::new(&all).finish().is_err());
    }
}
