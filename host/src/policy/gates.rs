//! Gates: what holds a rollout besides time. Manual approval (per stage, per update type), the
//! error budget (a verifier's burn rate against a threshold) and concurrency (rollouts active at
//! once in a target group). Pure: measurements and the list of active rollouts are inputs.

use serde::Serialize;

use super::version::UpdateType;
use crate::spec::policy::{ErrorBudgetSpec, PolicySpec, UpdateRule, lenient_version};

/// Written in `approve_stages` to require approval before every stage.
pub const EVERY_STAGE: &str = "*";

/// Why a human approves before each planned stage (`None`: no policy approval), in stage order.
/// `stages` are the planned stage names; `from`/`to` the rollout's versions. Errors name an
/// `approve_stages` entry that the strategy did not plan.
pub fn approvals(policy: &PolicySpec, from: &str, to: &str, stages: &[String]) -> Result<Vec<Option<String>>, String> {
    for name in &policy.approve_stages {
        if name != EVERY_STAGE && !stages.contains(name) {
            return Err(format!(
                "policy.approve_stages names stage {name:?}, which the strategy did not plan; planned: [{}]",
                stages.join(", ")
            ));
        }
    }
    let mut out: Vec<Option<String>> = stages
        .iter()
        .map(|s| {
            policy
                .approve_stages
                .iter()
                .any(|a| a == EVERY_STAGE || a == s)
                .then(|| format!("the policy requires approval before stage {s} (approve_stages)"))
        })
        .collect();
    if let (Some(rule), Some(first)) = (update_rule(policy, from, to), out.first_mut())
        && let (UpdateRule::Approve, update) = rule
    {
        let why = format!("{} update {from} → {to} ({} = \"approve\")", update.name(), update.name());
        *first = Some(match first.take() {
            Some(other) => format!("{why}; {other}"),
            None => why,
        });
    }
    Ok(out)
}

/// The update type of `from` → `to` and the rule the version policy sets for it.
pub fn update_rule(policy: &PolicySpec, from: &str, to: &str) -> Option<(UpdateRule, UpdateType)> {
    let v = policy.version.as_ref()?;
    let (f, t) = (lenient_version(from)?, lenient_version(to)?);
    (t > f).then(|| {
        let update = UpdateType::between(&f, &t);
        (update.rule(v), update)
    })
}

/// The verdict of an error-budget query.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetVerdict {
    /// The rollout may go on.
    pub ok: bool,
    pub burn_rate: Option<f64>,
    pub reason: String,
}

/// Judges an error-budget query: `measurements` are what the budget verifier reported (or its error).
/// A missing or non-numeric burn rate holds the rollout: no answer is not a healthy budget.
pub fn judge_budget(budget: &ErrorBudgetSpec, measurements: Result<&[(String, f64)], &str>) -> BudgetVerdict {
    let hold = |burn_rate, reason| BudgetVerdict { ok: false, burn_rate, reason };
    let ms = match measurements {
        Ok(ms) => ms,
        Err(e) => return hold(None, format!("error budget unknown: verifier {} errored: {e}", budget.verifier)),
    };
    let Some(&(_, rate)) = ms.iter().find(|(n, _)| *n == budget.measurement) else {
        return hold(
            None,
            format!(
                "error budget unknown: verifier {} reported no measurement {:?}",
                budget.verifier, budget.measurement
            ),
        );
    };
    if !rate.is_finite() {
        return hold(Some(rate), format!("error budget unknown: {} = {rate}", budget.measurement));
    }
    if rate > budget.max_burn_rate {
        return hold(
            Some(rate),
            format!(
                "error budget burning: {} = {rate} is above max_burn_rate = {} (verifier {})",
                budget.measurement, budget.max_burn_rate, budget.verifier
            ),
        );
    }
    BudgetVerdict {
        ok: true,
        burn_rate: Some(rate),
        reason: format!("error budget ok: {} = {rate}, at most {}", budget.measurement, budget.max_burn_rate),
    }
}

/// The group a rollout of spec `name` belongs to.
pub fn group<'a>(policy: &'a PolicySpec, name: &'a str) -> &'a str {
    policy.group.as_deref().unwrap_or(name)
}

/// Whether another rollout may start in its group: `active` are the ids of the rollouts of the
/// same group that have not ended.
pub fn concurrency(policy: &PolicySpec, group: &str, active: &[String]) -> Result<(), String> {
    match policy.max_concurrent {
        Some(max) if active.len() >= max as usize => Err(format!(
            "group {group:?} already has {} active rollout(s) ({}), and max_concurrent = {max}",
            active.len(),
            active.join(", ")
        )),
        _ => Ok(()),
    }
}

/// A rollout of the same group, as the wave gate sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetRollout {
    pub id: String,
    /// The spec's name: the fleet member.
    pub name: String,
    pub wave: u32,
    pub to: String,
    /// Its phase name (`succeeded`, `rolled-back`, `baking`...).
    pub phase: String,
}

/// Whether a rollout of `wave` in `group` may start moving to `to`: `fleet` are the group's
/// rollouts, newest first. Every member of an earlier wave counts by its newest rollout to `to`,
/// which must have succeeded; at least one such rollout must exist.
pub fn wave(group: &str, wave: u32, to: &str, fleet: &[FleetRollout]) -> Result<(), String> {
    if wave <= 1 {
        return Ok(());
    }
    let mut seen = Vec::new();
    let mut waiting = Vec::new();
    for r in fleet.iter().filter(|r| r.wave < wave && r.to == to) {
        if seen.contains(&&r.name) {
            continue;
        }
        seen.push(&r.name);
        if r.phase != "succeeded" {
            waiting.push(format!("{} (wave {}) is {}", r.id, r.wave, r.phase));
        }
    }
    let prefix = format!("wave {wave} of group {group:?} waits for waves 1 to {}", wave - 1);
    if seen.is_empty() {
        return Err(format!("{prefix}: none of their rollouts has moved to {to} yet"));
    }
    if !waiting.is_empty() {
        return Err(format!("{prefix} to succeed on {to}: {}", waiting.join(", ")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_stage_in_approve_stages_is_an_error() {
        let p: PolicySpec = toml::from_str("approve_stages = [\"canary\"]").unwrap();
        let err = approvals(&p, "1", "2", &["batch-1".into()]).unwrap_err();
        assert!(err.contains("\"canary\"") && err.contains("batch-1"), "{err}");
    }

    fn member(id: &str, wave: u32, to: &str, phase: &str) -> FleetRollout {
        let name = id.rsplit_once('-').map_or(id, |(n, _)| n).to_string();
        FleetRollout { id: id.into(), name, wave, to: to.into(), phase: phase.into() }
    }

    /// What a case is called, the spec's wave, the fleet, and what the gate says.
    type WaveCase = (&'static str, u32, Vec<FleetRollout>, Result<(), &'static str>);

    #[test]
    fn a_wave_waits_for_every_earlier_member_on_the_same_version() {
        let cases: [WaveCase; 7] = [
            ("the first wave never waits", 1, vec![], Ok(())),
            ("nothing earlier yet", 2, vec![], Err("none of their rollouts has moved to 2.0.0 yet")),
            ("earlier wave done", 2, vec![member("eu-1", 1, "2.0.0", "succeeded")], Ok(())),
            (
                "earlier wave still running",
                2,
                vec![member("eu-1", 1, "2.0.0", "succeeded"), member("asia-1", 1, "2.0.0", "baking")],
                Err("asia-1 (wave 1) is baking"),
            ),
            (
                "earlier wave rolled back",
                3,
                vec![member("eu-1", 2, "2.0.0", "rolled-back")],
                Err("eu-1 (wave 2) is rolled-back"),
            ),
            (
                "the newest rollout of a member counts",
                2,
                vec![member("eu-2", 1, "2.0.0", "succeeded"), member("eu-1", 1, "2.0.0", "rolled-back")],
                Ok(()),
            ),
            (
                "other versions and later waves do not count",
                2,
                vec![member("eu-1", 1, "1.9.0", "succeeded"), member("us-1", 2, "2.0.0", "succeeded")],
                Err("none of their rollouts has moved to 2.0.0 yet"),
            ),
        ];
        for (name, w, fleet, expected) in cases {
            let got = wave("fleet", w, "2.0.0", &fleet);
            match expected {
                Ok(()) => assert_eq!(got, Ok(()), "{name}"),
                Err(part) => assert!(got.as_ref().is_err_and(|e| e.contains(part)), "{name}: {got:?}"),
            }
        }
    }

    #[test]
    fn a_missing_burn_rate_holds() {
        let b: ErrorBudgetSpec = toml::from_str("verifier = \"slo\"\nmax_burn_rate = 1.0").unwrap();
        assert!(!judge_budget(&b, Ok(&[])).ok);
        assert!(!judge_budget(&b, Err("timeout")).ok);
    }
}
