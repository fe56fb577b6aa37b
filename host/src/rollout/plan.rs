//! Preparing a rollout's plan: observe the target, ask the strategy for stages, check them against
//! what the target can do, and require approval before irreversible changes (and where the spec's
//! `[policy]` asks for it).

use serde::{Deserialize, Serialize};

use super::plugins::RolloutPlugins;
use crate::engine::{Context, StagePlan};
use crate::runtime::{CallError, RolloutInfo, Stage};
use crate::spec::RolloutSpec;

/// One planned stage, with what it moves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedStage {
    pub name: String,
    pub weight: Option<u8>,
    pub units: Vec<String>,
    pub bake_seconds: u64,
    pub verify: bool,
    pub approval: bool,
    pub approval_reason: Option<String>,
}

/// Everything planned for a rollout, stored with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub stages: Vec<PlannedStage>,
    pub context: Context,
    pub traffic_split: bool,
    /// Every unit the target reported, in order.
    pub units: Vec<String>,
    /// Irreversible changes the target reported for this upgrade.
    pub irreversible: Vec<String>,
    /// Unsigned or untrusted plugin files were allowed when the rollout was created; a resume allows
    /// them again (the audit trail says so).
    #[serde(default)]
    pub allow_unsigned: bool,
}

impl Plan {
    /// Units moved by stages `0..=through`.
    pub fn units_through(&self, through: usize) -> Vec<String> {
        self.stages.iter().take(through + 1).flat_map(|s| s.units.iter().cloned()).collect()
    }

    pub fn to_wit_stage(s: &PlannedStage) -> Stage {
        Stage {
            name: s.name.clone(),
            weight: s.weight,
            units: s.units.clone(),
            bake_seconds: u32::try_from(s.bake_seconds).unwrap_or(u32::MAX),
            verify: s.verify,
            approval: s.approval,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Call(#[from] CallError),
    #[error("strategy {strategy}: {message}")]
    Invalid { strategy: String, message: String },
}

/// Observes the target and plans the stages of rollout `id` of `spec`.
pub fn prepare(id: &str, spec: &RolloutSpec, plugins: &mut RolloutPlugins) -> Result<Plan, PlanError> {
    let description = plugins.target.describe()?;
    let caps = description.capabilities;
    let observed = plugins.target.observe(&plugins.target_config, &spec.from, &spec.to)?;
    let units: Vec<String> = observed.units.iter().map(|u| u.unit.clone()).collect();
    let info = RolloutInfo {
        id: id.to_string(),
        name: spec.name.clone(),
        from_version: spec.from.clone(),
        to_version: spec.to.clone(),
        units: units.clone(),
        traffic_split: caps.traffic_split,
    };
    let stages = plugins.strategy.plan(&plugins.strategy_config, &info)?;
    let strategy = plugins.strategy.plugin().name.to_string();
    let invalid = |message: String| PlanError::Invalid { strategy: strategy.clone(), message };
    if stages.is_empty() {
        return Err(invalid("planned no stages".into()));
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut last_weight = 0u8;
    for s in &stages {
        if let Some(w) = s.weight {
            if !caps.traffic_split {
                return Err(invalid(format!(
                    "stage {:?} sets a traffic weight but the target cannot split traffic",
                    s.name
                )));
            }
            if w > 100 || w < last_weight {
                return Err(invalid(format!("stage {:?} has weight {w}: weights must rise, up to 100", s.name)));
            }
            last_weight = w;
        }
        if !s.units.is_empty() && !caps.unit_batches {
            return Err(invalid(format!("stage {:?} names units but the target moves no unit batches", s.name)));
        }
        for u in &s.units {
            if !units.contains(u) {
                return Err(invalid(format!("stage {:?} names unit {u:?}, which the target did not report", s.name)));
            }
            if !seen.insert(u.clone()) {
                return Err(invalid(format!("unit {u:?} is in more than one stage")));
            }
        }
    }
    let mut planned: Vec<PlannedStage> = stages
        .iter()
        .map(|s| PlannedStage {
            name: s.name.clone(),
            weight: s.weight,
            units: s.units.clone(),
            bake_seconds: u64::from(s.bake_seconds),
            verify: s.verify,
            approval: s.approval,
            approval_reason: s.approval.then(|| format!("the strategy asks for approval before stage {}", s.name)),
        })
        .collect();
    if !observed.irreversible.is_empty() {
        // The first stage is the point of no return: once it is applied, rolling back cannot undo
        // these changes, so a human approves before it.
        let first = &mut planned[0];
        first.approval = true;
        first.approval_reason =
            Some(format!("stage {} makes irreversible changes: {}", first.name, observed.irreversible.join("; ")));
    }
    let names: Vec<String> = planned.iter().map(|s| s.name.clone()).collect();
    let policy_approvals = crate::policy::gates::approvals(&spec.policy, &spec.from, &spec.to, &names)
        .map_err(|message| PlanError::Invalid { strategy: strategy.clone(), message })?;
    for (stage, why) in planned.iter_mut().zip(policy_approvals) {
        if let Some(why) = why {
            stage.approval = true;
            stage.approval_reason = Some(match stage.approval_reason.take() {
                Some(earlier) => format!("{earlier}; {why}"),
                None => why,
            });
        }
    }
    let (rounds, interval) = spec
        .verifiers
        .iter()
        .map(|v| v.schedule())
        .fold((0, 0), |(r, i), (count, interval)| (r.max(count), i.max(interval)));
    let context = Context {
        stages: planned
            .iter()
            .map(|s| StagePlan {
                name: s.name.clone(),
                bake_seconds: s.bake_seconds,
                verify: s.verify,
                approval: s.approval,
                approval_reason: s.approval_reason.clone(),
            })
            .collect(),
        policy: spec.policy(),
        rounds,
        round_interval_seconds: interval,
    };
    Ok(Plan {
        stages: planned,
        context,
        traffic_split: caps.traffic_split,
        units,
        irreversible: observed.irreversible,
        allow_unsigned: plugins.allowed_unsigned,
    })
}
