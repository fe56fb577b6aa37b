//! Asking for judgements: a round of verifications of a stage, the error budget before a stage
//! (policy), and the strategy's decision after a stage, each within the host's bounds and journaled.

use serde_json::json;

use super::bounds;
use super::entries::{entry, error_text, logs_json};
use super::plan::Plan;
use super::runner::{CommandOutcome, Runner};
use crate::engine::{Decision, Event, State};
use crate::runtime::{self, CallError, Check, Outcome, Progress, Verdict};
use crate::store::NewEntry;

impl Runner<'_> {
    /// Asks the error-budget verifier before stage `next`, as a verification of the units applied so far.
    pub(super) fn ask_budget(&mut self, next: usize) -> (crate::policy::gates::BudgetVerdict, NewEntry) {
        let budget = self.spec.policy.error_budget.clone().expect("asked only with an error budget");
        let units = if next == 0 { vec![] } else { self.plan.units_through(next - 1) };
        let check = Check {
            rollout_id: self.id.clone(),
            stage_index: next as u32,
            stage_name: self.plan.stages.get(next).map_or_else(String::new, |s| s.name.clone()),
            from_version: self.spec.from.clone(),
            to_version: self.spec.to.clone(),
            weight: next.checked_sub(1).and_then(|s| self.plan.weight_through(s)),
            units,
            attempt: 0,
        };
        let Some(v) = self.plugins.verifiers.iter_mut().find(|v| v.name == budget.verifier) else {
            let verdict = crate::policy::gates::judge_budget(&budget, Err("not loaded"));
            let entry = entry("note", Some(next), verdict.reason.clone(), json!({ "plugin": budget.verifier }));
            return (verdict, entry);
        };
        let result = v.verify(&check);
        let measured: Result<Vec<(String, f64)>, String> = result
            .as_ref()
            .map(|verdict| verdict.measurements.iter().map(|m| (m.name.clone(), m.value)).collect())
            .map_err(|e| e.to_string());
        let verdict =
            crate::policy::gates::judge_budget(&budget, measured.as_ref().map(Vec::as_slice).map_err(String::as_str));
        let detail =
            json!({ "plugin": v.name, "call": "verify", "purpose": "error-budget", "burn_rate": verdict.burn_rate });
        let entry =
            entry("call", Some(next), format!("error budget before stage {}: {}", next + 1, verdict.reason), detail);
        (verdict, entry)
    }

    /// Runs verification round `round` of `stage`: every verifier whose `count` reaches it.
    pub(super) fn verify(&mut self, stage: usize, round: u32) -> CommandOutcome {
        if self.verdicts.0 != stage {
            self.verdicts = (stage, Vec::new());
        }
        let s = &self.plan.stages[stage];
        let check = Check {
            rollout_id: self.id.clone(),
            stage_index: stage as u32,
            stage_name: s.name.clone(),
            from_version: self.spec.from.clone(),
            to_version: self.spec.to.clone(),
            weight: self.plan.weight_through(stage),
            units: self.plan.units_through(stage),
            attempt: round,
        };
        let (mut fails, mut inconclusive, mut errors, mut entries) = (vec![], vec![], vec![], vec![]);
        // A round with an error no retry can help (a verifier's `invalid-config`) is not retried.
        let mut retryable = true;
        for v in self.plugins.verifiers.iter_mut().filter(|v| v.spec.schedule().0 >= round) {
            let result = v.verify(&check);
            let (logs, dropped) = v.instance.last_logs();
            let mut detail =
                json!({ "plugin": v.name, "call": "verify", "round": round, "logs": logs_json(logs, dropped) });
            let message = match &result {
                Ok(verdict) => {
                    detail["outcome"] = json!(outcome_name(verdict.outcome));
                    detail["reason"] = json!(verdict.reason);
                    detail["measurements"] = json!(
                        verdict
                            .measurements
                            .iter()
                            .map(|m| json!({ "name": m.name, "value": m.value, "unit": m.unit }))
                            .collect::<Vec<_>>()
                    );
                    let line = format!("{}: {}", v.name, verdict.reason);
                    match verdict.outcome {
                        Outcome::Pass => {}
                        Outcome::Fail => fails.push(line),
                        Outcome::Inconclusive => inconclusive.push(line),
                    }
                    format!(
                        "verify {}: {}: {}{}",
                        v.name,
                        outcome_name(verdict.outcome),
                        verdict.reason,
                        measurements(verdict)
                    )
                }
                Err(e) => {
                    detail["outcome"] = json!("error");
                    detail["error"] = json!(e.to_string());
                    detail["limit"] = json!(e.limit());
                    if let Some(why) = e.not_retried() {
                        detail["not_retried"] = json!(why);
                        retryable = false;
                    }
                    errors.push(error_text(e));
                    format!("verify {}: error: {}", v.name, error_text(e))
                }
            };
            if let Ok(verdict) = result {
                self.verdicts.1.push(verdict);
            }
            entries.push(entry("call", Some(stage), message, detail));
        }
        let event = if !fails.is_empty() {
            Event::VerdictFail { reason: fails.join("; ") }
        } else if !errors.is_empty() {
            Event::VerifyError { message: errors.join("; "), retryable }
        } else if !inconclusive.is_empty() {
            Event::VerdictInconclusive { reason: inconclusive.join("; ") }
        } else {
            Event::VerdictPass
        };
        CommandOutcome { event, entries }
    }

    /// Asks the strategy what follows `stage`.
    pub(super) fn decide(&mut self, stage: usize, state: &State) -> CommandOutcome {
        let verdicts = if self.verdicts.0 == stage { self.verdicts.1.clone() } else { Vec::new() };
        let progress = Progress {
            rollout: self.info(),
            stages: self.plan.stages.iter().map(Plan::to_wit_stage).collect(),
            stage_index: stage as u32,
            verdicts,
            bake_extensions: state.extensions,
        };
        let max_bake = self.plan.max_bake_seconds;
        let result = self.plugins.strategy.next(&self.plugins.strategy_config, &progress).and_then(|d| {
            bounds::decision(d, state.extensions, max_bake).map_err(|message| CallError::Refused {
                plugin: self.plugins.strategy.plugin().name.to_string(),
                call: "next",
                message,
            })
        });
        let (logs, dropped) = self.plugins.strategy.last_logs();
        let mut detail = json!({ "plugin": "strategy", "call": "next", "logs": logs_json(logs, dropped) });
        let (event, message) = match result {
            Ok(d) => {
                let decision = match d {
                    runtime::Decision::Continue => Decision::Continue,
                    runtime::Decision::ExtendBake(s) => Decision::ExtendBake(u64::from(s)),
                    runtime::Decision::Hold(r) => Decision::Hold(r),
                    runtime::Decision::RollBack(r) => Decision::RollBack(r),
                };
                detail["decision"] = json!(decision);
                let message = format!("strategy decides: {}", decision_text(&decision));
                (Event::Decided { decision }, message)
            }
            Err(e) => {
                detail["error"] = json!(e.to_string());
                if let Some(why) = e.not_retried() {
                    detail["not_retried"] = json!(why);
                }
                let message = format!("strategy decision errored: {}", error_text(&e));
                (Event::DecideError { message: error_text(&e), retryable: e.not_retried().is_none() }, message)
            }
        };
        CommandOutcome { event, entries: vec![entry("call", Some(stage), message, detail)] }
    }
}

fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "pass",
        Outcome::Fail => "fail",
        Outcome::Inconclusive => "inconclusive",
    }
}

fn measurements(v: &Verdict) -> String {
    if v.measurements.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = v
        .measurements
        .iter()
        .map(|m| format!("{}={}{}", m.name, m.value, m.unit.as_deref().map(|u| format!(" {u}")).unwrap_or_default()))
        .collect();
    format!(" [{}]", parts.join(", "))
}

fn decision_text(d: &Decision) -> String {
    match d {
        Decision::Continue => "continue".into(),
        Decision::ExtendBake(s) => format!("extend the bake by {s}s"),
        Decision::Hold(r) => format!("hold for approval: {r}"),
        Decision::RollBack(r) => format!("roll back: {r}"),
    }
}
