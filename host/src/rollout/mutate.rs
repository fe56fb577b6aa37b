//! The target's mutating calls (`apply`, `rollback`, `finalize`), each checked by reading the
//! target back with `observe`: a call that answers "done" while the target did not move is a
//! [`Event::Drift`], and a rollback sends only what the target shows this rollout changed.

use serde_json::json;

use super::bounds::{MAX_REASON_BYTES, cut};
use super::entries::{call_entry, entry, error_text, logs_json};
use super::plan::Plan;
use super::readback;
use super::runner::{CommandOutcome, Runner};
use crate::engine::{Command, Event};
use crate::runtime::{CallError, Change, Observation, Operation, TargetInstance};
use crate::store::NewEntry;

/// What a mutating call led to, before it becomes an event.
enum Called {
    /// The call failed: the engine's error event for it, with `retryable` and the message.
    Failed {
        retryable: bool,
        message: String,
    },
    /// The call answered, but the read-back shows it did not hold.
    Drift(String),
    Done,
}

impl Called {
    /// The engine's event for this outcome of a call whose success is `done` and whose error
    /// events are made by `failed`.
    fn event(self, done: Event, failed: impl FnOnce(bool, String) -> Event) -> Event {
        match self {
            Called::Done => done,
            Called::Drift(message) => Event::Drift { message },
            Called::Failed { retryable, message } => failed(retryable, message),
        }
    }
}

fn observation_json(o: &Observation) -> serde_json::Value {
    json!({
        "units": o.units.iter().map(|u| json!({ "unit": u.unit, "version": u.version })).collect::<Vec<_>>(),
        "weight": o.weight,
    })
}

fn change_json(c: &Change) -> serde_json::Value {
    json!({
        "message": c.message,
        "units": c.units.iter().map(|u| json!({ "unit": u.unit, "version": u.version })).collect::<Vec<_>>(),
        "weight": c.weight,
    })
}

impl Runner<'_> {
    /// Reads the target back; the journal detail of the call starts with its logs.
    fn observe(&mut self, purpose: &str) -> (Result<Observation, CallError>, serde_json::Value) {
        let (config, from, to) = (self.plugins.target_config.clone(), self.spec.from.clone(), self.spec.to.clone());
        let observed = self.plugins.target.observe(&config, &from, &to);
        let (logs, dropped) = self.plugins.target.last_logs();
        let detail =
            json!({ "plugin": "target", "call": "observe", "purpose": purpose, "logs": logs_json(logs, dropped) });
        (observed, detail)
    }

    /// After a call answered with `change`: reads the target back and checks it with `check`; the
    /// journal entry records the observation and any disagreement with the target's own report.
    fn read_back(
        &mut self,
        call: &str,
        stage: Option<usize>,
        change: &Change,
        check: impl FnOnce(&Plan, &Observation) -> Result<(), String>,
    ) -> (Called, NewEntry) {
        let (observed, mut detail) = self.observe(&format!("read back after {call}"));
        let (called, message) = match observed {
            Err(e) => {
                detail["error"] = json!(e.to_string());
                // The call is re-sent (same operation id) unless no retry can help the read-back.
                let message = format!("{call} answered, but reading the target back failed: {}", error_text(&e));
                (Called::Failed { retryable: e.not_retried().is_none(), message: message.clone() }, message)
            }
            Ok(o) => {
                detail["observed"] = observation_json(&o);
                if let Some(note) = readback::change_disagrees(change, &o) {
                    detail["disagrees"] = json!(note);
                }
                match check(&self.plan, &o) {
                    Ok(()) => (Called::Done, format!("read back after {call}: as expected")),
                    Err(why) => {
                        let said = cut(change.message.clone(), MAX_REASON_BYTES);
                        let drift = format!("the target answered {said:?}, but {why}");
                        (Called::Drift(drift.clone()), format!("read back after {call}: {drift}"))
                    }
                }
            }
        };
        (called, entry("call", stage, message, detail))
    }

    /// Runs `call` (named `name`) on the target, then (when it answered) the read-back.
    fn mutate(
        &mut self,
        name: &'static str,
        call: impl FnOnce(&mut TargetInstance, &Operation) -> Result<Change, CallError>,
        stage: Option<usize>,
        op: &Operation,
        ok_text: impl FnOnce(&Change) -> String,
        check: impl FnOnce(&Plan, &Observation) -> Result<(), String>,
    ) -> (Called, Vec<NewEntry>) {
        let result = call(&mut self.plugins.target, op);
        let logs = self.plugins.target.last_logs();
        let mut call = call_entry("target", name, stage, &op.id, &result, logs, ok_text);
        match result {
            Err(e) => (Called::Failed { retryable: e.retryable(), message: error_text(&e) }, vec![call]),
            Ok(change) => {
                if let Some(detail) = call.detail.as_mut() {
                    detail["change"] = change_json(&change);
                }
                let (called, read) = self.read_back(name, stage, &change, check);
                (called, vec![call, read])
            }
        }
    }

    pub(super) fn apply(&mut self, command: &Command, stage: usize) -> CommandOutcome {
        let s = self.plan.stages[stage].clone();
        let op = self.operation(command, stage, s.weight, s.units.clone());
        let to = self.spec.to.clone();
        let (called, entries) = self.mutate(
            "apply",
            TargetInstance::apply,
            Some(stage),
            &op,
            |c| format!("applied stage {}: {}", s.name, c.message),
            |plan, o| readback::after_apply(plan, stage, &to, o),
        );
        let event = called.event(Event::ApplyOk, |retryable, message| Event::ApplyError { retryable, message });
        CommandOutcome { event, entries }
    }

    pub(super) fn rollback(&mut self, command: &Command, through: usize) -> CommandOutcome {
        // What to undo is read from the target: only units (and the weight) this rollout changed.
        let (observed, mut detail) = self.observe("before rollback");
        let (undo, now) = match observed {
            Ok(now) => (readback::undo(&self.plan, through, &now), now),
            Err(e) => {
                let message = format!("could not read the target before rolling back: {}", error_text(&e));
                detail["error"] = json!(e.to_string());
                return CommandOutcome {
                    event: Event::RollbackError { retryable: e.retryable(), message: message.clone() },
                    entries: vec![entry("call", Some(through), message, detail)],
                };
            }
        };
        if undo.is_nothing() {
            detail["observed"] = observation_json(&now);
            let message =
                "nothing to roll back: the target shows no unit and no weight this rollout changed".to_string();
            return CommandOutcome {
                event: Event::RollbackOk,
                entries: vec![entry("call", Some(through), message, detail)],
            };
        }
        let weight = self.plan.traffic_split.then(|| readback::weight_before(&self.plan));
        let op = self.operation(command, through, weight, undo.units.clone());
        let from = self.spec.from.clone();
        let count = undo.units.len();
        let (called, entries) = self.mutate(
            "rollback",
            TargetInstance::rollback,
            Some(through),
            &op,
            |c| {
                if count == 0 {
                    format!("rolled back: {}", c.message)
                } else {
                    format!("rolled back {count} units: {}", c.message)
                }
            },
            |plan, o| readback::after_rollback(plan, &undo, &from, o),
        );
        let event = called.event(Event::RollbackOk, |retryable, message| Event::RollbackError { retryable, message });
        CommandOutcome { event, entries }
    }

    pub(super) fn finalize(&mut self, command: &Command) -> CommandOutcome {
        let weight = self.plan.traffic_split.then_some(100);
        let last = self.plan.stages.len();
        let op = self.operation(command, last, weight, self.plan.units.clone());
        let to = self.spec.to.clone();
        let (called, entries) = self.mutate(
            "finalize",
            TargetInstance::finalize,
            None,
            &op,
            |c| format!("finalized: {}", c.message),
            |plan, o| readback::after_finalize(plan, &to, o),
        );
        let event = called.event(Event::FinalizeOk, |retryable, message| Event::FinalizeError { retryable, message });
        CommandOutcome { event, entries }
    }
}
