//! Preparing a rollout's plan: observe the target, ask the strategy for stages, check them against
//! what the target can do, and require approval before irreversible changes (and where the spec's
//! `[policy]` asks for it).

use serde::{Deserialize, Serialize};

use super::bounds::{MAX_STAGE_NAME_BYTES, MAX_STAGES, MAX_UNIT_NAME_BYTES, MAX_UNITS};
use super::plugins::RolloutPlugins;
use crate::engine::{Context, StagePlan};
use crate::runtime::{CallError, Capabilities, RolloutInfo, Stage};
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
    /// Created by `upshift run --dev` (`rollout::dev`): its plugin files were pinned to the builds
    /// found at the start. Only a caller that says `--dev` again continues it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dev: bool,
    /// What the target reported before anything was applied: each unit's version, in order, and
    /// the traffic weight. A rollback undoes only what differs from this (see `readback`).
    #[serde(default)]
    pub observed: Vec<UnitVersion>,
    #[serde(default)]
    pub observed_weight: Option<u8>,
    /// Units no stage moves and not yet at the new version: only `finalize` would move them,
    /// unverified. A plan with any is refused unless the spec's `[plan]` allows it.
    #[serde(default)]
    pub unstaged: Vec<String>,
    /// The longest bake or bake extension the strategy may ask for (the spec's `[plan]`).
    #[serde(default = "default_max_bake")]
    pub max_bake_seconds: u64,
}

fn default_max_bake() -> u64 {
    super::bounds::DEFAULT_MAX_BAKE_SECONDS
}

/// One unit's version as the target reported it, stored with the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitVersion {
    pub unit: String,
    pub version: Option<String>,
}

impl Plan {
    /// Units moved by stages `0..=through`.
    pub fn units_through(&self, through: usize) -> Vec<String> {
        self.stages.iter().take(through + 1).flat_map(|s| s.units.iter().cloned()).collect()
    }

    /// The traffic weight in force once stages `0..=stage` are applied.
    pub fn weight_through(&self, stage: usize) -> Option<u8> {
        self.stages.iter().take(stage + 1).filter_map(|s| s.weight).next_back()
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
    #[error("target {target}: {message}")]
    Target { target: String, message: String },
    #[error(
        "strategy {strategy}: no stage moves {}, so only finalize would move them, unverified; change the strategy's config, or set `allow_unstaged_units = true` under [plan] to accept that",
        list_units(units)
    )]
    Unstaged { strategy: String, units: Vec<String> },
}

/// Units for a message: all of them when few, else the first ten and how many more.
fn list_units(units: &[String]) -> String {
    const SHOWN: usize = 10;
    let head = units.iter().take(SHOWN).map(String::as_str).collect::<Vec<_>>().join(", ");
    match units.len() {
        1 => format!("unit {head}"),
        n if n <= SHOWN => format!("units {head}"),
        n => format!("units {head} and {} more", n - SHOWN),
    }
}

/// Observes the target and plans the stages of rollout `id` of `spec`.
pub fn prepare(id: &str, spec: &RolloutSpec, plugins: &mut RolloutPlugins) -> Result<Plan, PlanError> {
    let description = plugins.target.describe()?;
    let caps = description.capabilities;
    let observed = plugins.target.observe(&plugins.target_config, &spec.from, &spec.to)?;
    let target = plugins.target.plugin().name.to_string();
    check_observation(&observed.units).map_err(|message| PlanError::Target { target, message })?;
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
    check_stages(&stages, &units, &caps, spec.plan.max_bake_seconds()).map_err(invalid)?;
    let staged: std::collections::BTreeSet<&String> = stages.iter().flat_map(|s| &s.units).collect();
    let unstaged: Vec<String> = observed
        .units
        .iter()
        .filter(|u| !staged.contains(&u.unit) && u.version.as_deref() != Some(spec.to.as_str()))
        .map(|u| u.unit.clone())
        .collect();
    if !unstaged.is_empty() && !spec.plan.allow_unstaged_units {
        return Err(PlanError::Unstaged { strategy: strategy.clone(), units: unstaged });
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
        dev: plugins.dev,
        observed: observed
            .units
            .iter()
            .map(|u| UnitVersion { unit: u.unit.clone(), version: u.version.clone() })
            .collect(),
        observed_weight: observed.weight,
        unstaged,
        max_bake_seconds: spec.plan.max_bake_seconds(),
    })
}

/// A target's observation within bounds: at most [`MAX_UNITS`] units, each named once, non-empty,
/// printable and at most [`MAX_UNIT_NAME_BYTES`] long.
fn check_observation(units: &[crate::runtime::UnitVersion]) -> Result<(), String> {
    if units.len() > MAX_UNITS {
        return Err(format!("observe reported {} units; at most {MAX_UNITS} are accepted", units.len()));
    }
    let mut seen = std::collections::BTreeSet::new();
    for u in units {
        if let Err(why) = check_name(&u.unit, MAX_UNIT_NAME_BYTES) {
            return Err(format!("observe reported a unit whose name {why}"));
        }
        if !seen.insert(&u.unit) {
            return Err(format!("observe reported unit {:?} twice", u.unit));
        }
    }
    Ok(())
}

/// Why `name` is not acceptable as a stage or unit name, if it is not.
fn check_name(name: &str, max: usize) -> Result<(), String> {
    if name.is_empty() {
        return Err("is empty".into());
    }
    if name.len() > max {
        return Err(format!("is {} bytes long (at most {max})", name.len()));
    }
    if name.chars().any(crate::text::is_unsafe) {
        return Err(format!("{} contains control characters", crate::text::terminal(name, max)));
    }
    Ok(())
}

/// Whether the plan begins with a preview stage: weight 0 and no units, the new version brought up
/// where only a route the target keeps (a preview header) reaches it. Its apply changes what
/// `observe` cannot show, so a rollback through it is always sent to the target, which knows from
/// its own state what it set.
pub fn is_preview(stages: &[PlannedStage]) -> bool {
    stages.first().is_some_and(|s| s.weight == Some(0) && s.units.is_empty())
}

/// The strategy's stages within bounds and meaningful: at least one and at most [`MAX_STAGES`],
/// named, each moving something (units, or a weight above the one before), weights rising to at
/// most 100, units the target reported each in one stage, bakes within `max_bake`. The first stage
/// alone may be weight 0 with no units: a preview stage (see [`is_preview`]).
fn check_stages(stages: &[Stage], units: &[String], caps: &Capabilities, max_bake: u64) -> Result<(), String> {
    if stages.is_empty() {
        return Err("planned no stages".into());
    }
    if stages.len() > MAX_STAGES {
        return Err(format!("planned {} stages; at most {MAX_STAGES} are accepted", stages.len()));
    }
    let known: std::collections::BTreeSet<&String> = units.iter().collect();
    let mut seen = std::collections::BTreeSet::new();
    let mut names = std::collections::BTreeSet::new();
    let mut last_weight = 0u8;
    for (i, s) in stages.iter().enumerate() {
        if let Err(why) = check_name(&s.name, MAX_STAGE_NAME_BYTES) {
            return Err(format!("the name of stage {} {why}", i + 1));
        }
        if !names.insert(&s.name) {
            return Err(format!("two stages are named {:?}", s.name));
        }
        if u64::from(s.bake_seconds) > max_bake {
            return Err(format!(
                "stage {:?} bakes {}s; the spec allows at most {max_bake}s ([plan] max_bake_seconds)",
                s.name, s.bake_seconds
            ));
        }
        let mut moves = !s.units.is_empty();
        if let Some(w) = s.weight {
            if !caps.traffic_split {
                return Err(format!("stage {:?} sets a traffic weight but the target cannot split traffic", s.name));
            }
            if w > 100 || w < last_weight {
                return Err(format!("stage {:?} has weight {w}: weights must rise, up to 100", s.name));
            }
            moves |= w > last_weight || (i == 0 && w == 0 && s.units.is_empty());
            last_weight = w;
        }
        if !moves {
            return Err(format!(
                "stage {:?} moves nothing (no units and no weight above the stage before): it would verify the same thing again",
                s.name
            ));
        }
        if !s.units.is_empty() && !caps.unit_batches {
            return Err(format!("stage {:?} names units but the target moves no unit batches", s.name));
        }
        for u in &s.units {
            if !known.contains(u) {
                return Err(format!("stage {:?} names unit {u:?}, which the target did not report", s.name));
            }
            if !seen.insert(u) {
                return Err(format!("unit {u:?} is in more than one stage"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(name: &str, weight: Option<u8>) -> Stage {
        Stage { name: name.into(), weight, units: vec![], bake_seconds: 0, verify: true, approval: false }
    }

    fn caps() -> Capabilities {
        Capabilities { traffic_split: true, unit_batches: false, rollback: true, irreversible: vec![] }
    }

    #[test]
    fn only_the_first_stage_may_be_a_weight_0_preview() {
        let blue_green = [stage("preview", Some(0)), stage("switch", Some(100))];
        assert_eq!(check_stages(&blue_green, &[], &caps(), 60), Ok(()));
        let late = [stage("canary", Some(10)), stage("again", Some(10))];
        let err = check_stages(&late, &[], &caps(), 60).unwrap_err();
        assert!(err.contains("stage \"again\" moves nothing"), "{err}");
        let idle = [stage("nothing", None), stage("all", Some(100))];
        assert!(check_stages(&idle, &[], &caps(), 60).unwrap_err().contains("moves nothing"));
    }
}
