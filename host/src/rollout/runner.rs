//! The runner: drives one rollout to a terminal phase (or to a human's turn) by carrying out the
//! machine's outstanding command, committing its outcome and the transition in one transaction,
//! and repeating. Everything is re-read from the store at each step, so a crash at any point
//! resumes exactly where the journal says: an interrupted command is re-sent as it was.

use std::thread::sleep;
use std::time::Duration;

use serde_json::json;

use super::bounds;
use super::now_ms;
use super::plan::Plan;
use super::plugins::RolloutPlugins;
use crate::engine::{Command, Decision, Event, Phase, State};
use crate::runtime::{
    self, CallError, Check, LoadError, LogRecord, Operation, Outcome, Progress, RolloutInfo, Runtime, Verdict,
};
use crate::spec::RolloutSpec;
use crate::store::{Commit, EntryKind, NewEntry, RolloutRecord, Store, StoreError};
use crate::trust::TrustPolicy;

/// How often a waiting runner looks at the store for an operator's control.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// Delay before re-sending a command after its first error; doubled per further error.
pub const RETRY_DELAY: Duration = Duration::from_millis(500);
/// The longest delay between retries.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Plugins(#[from] super::plugins::PluginsError),
    #[error(
        "rollout {id} is being driven by another upshift process (pid {pid}); control it with approve/pause/resume/abort"
    )]
    Leased { id: String, pid: u32 },
    #[error("rollout {id} has a corrupt record: {message}")]
    Corrupt { id: String, message: String },
    #[error("rollout {id}: the engine refused {event} while {phase}: this is a bug, the journal holds the details")]
    Engine { id: String, event: &'static str, phase: Phase },
}

/// What the runner tells a human as it goes.
pub trait Reporter {
    /// Entries just committed, and the state they led to.
    fn committed(&mut self, entries: &[NewEntry], state: &State, plan: &Plan);
    /// The rollout waits for a human (approval, resume); said once per wait.
    fn waiting(&mut self, id: &str, state: &State);
    /// A bake or interval is running; called about every [`BAKE_REPORT_EVERY`].
    fn baking(&mut self, state: &State, plan: &Plan, remaining: Duration);
}

/// How often a runner holding a stage outside its window looks at the clock again.
pub const POLICY_RECHECK: Duration = Duration::from_secs(30);

/// What the spec's `[policy]` says at this point of the run (see `crate::policy`).
enum Gate {
    /// Go on; the entries (an error-budget answer) are journaled first.
    Go(Vec<NewEntry>),
    /// Pause (at once, or at the boundary the engine honours) for the reason given, which becomes
    /// the rollout's note; the entries are journaled with it.
    Pause(String, Vec<NewEntry>),
    /// Do not send the outstanding apply yet (its window is closed); the reason, journaled once.
    Hold(String),
}

/// A journal note from the policy.
fn policy_note(actor: &str, stage: usize, message: String) -> NewEntry {
    NewEntry {
        actor: actor.to_string(),
        kind: EntryKind::Note,
        event: None,
        from: None,
        to: None,
        stage: Some(stage),
        message,
        detail: None,
    }
}

/// How often a running bake reports the time left.
pub const BAKE_REPORT_EVERY: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Who the journal names for the runner's transitions.
    pub actor: String,
    /// Wait for approvals and resumes instead of returning when the rollout needs a human.
    pub wait_for_humans: bool,
    /// The keys plugin files must be signed with (a rollout created with `--allow-unsigned` keeps
    /// that allowance when resumed).
    pub trust: TrustPolicy,
}

pub struct Runner<'s> {
    store: &'s mut Store,
    pub(super) id: String,
    pub(super) spec: RolloutSpec,
    pub(super) plan: Plan,
    pub(super) plugins: RolloutPlugins,
    opts: RunOptions,
    /// Verdicts of the current stage, for the strategy's `next`.
    verdicts: (usize, Vec<Verdict>),
    /// The plugin states as last persisted, so a commit writes only those that changed.
    saved_states: Vec<(String, std::collections::BTreeMap<String, String>)>,
}

impl Drop for Runner<'_> {
    fn drop(&mut self) {
        let _ = self.store.release_lease(&self.id, std::process::id());
    }
}

fn process_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// What carrying out one command produced.
pub(super) struct CommandOutcome {
    pub(super) event: Event,
    pub(super) entries: Vec<NewEntry>,
}

impl<'s> Runner<'s> {
    /// Takes over rollout `id`: loads its spec and plan from the store and its plugins (with their
    /// persisted state) through `runtime`, and holds the runner lease.
    pub fn open(store: &'s mut Store, runtime: &Runtime, id: &str, opts: RunOptions) -> Result<Self, RunError> {
        let rec = store.rollout(id)?;
        let corrupt = |e: serde_json::Error| RunError::Corrupt { id: id.to_string(), message: e.to_string() };
        let spec: RolloutSpec = serde_json::from_str(&rec.spec).map_err(corrupt)?;
        let plan: Plan = serde_json::from_str(&rec.plan).map_err(corrupt)?;
        let states = store.plugin_states(id)?;
        let trust =
            TrustPolicy { allow_unsigned: opts.trust.allow_unsigned || plan.allow_unsigned, ..opts.trust.clone() };
        let plugins = RolloutPlugins::load(runtime, &spec, &trust, |key| states.get(key).cloned().unwrap_or_default())?;
        Self::with_plugins(store, id, spec, plan, plugins, opts)
    }

    /// Takes over rollout `id` with plugins already loaded (a rollout just created from `spec`).
    pub fn with_plugins(
        store: &'s mut Store,
        id: &str,
        spec: RolloutSpec,
        plan: Plan,
        plugins: RolloutPlugins,
        opts: RunOptions,
    ) -> Result<Self, RunError> {
        if let Err(pid) = store.acquire_lease(id, std::process::id(), process_alive)? {
            return Err(RunError::Leased { id: id.to_string(), pid });
        }
        let saved_states = plugins.states();
        Ok(Runner {
            store,
            id: id.to_string(),
            spec,
            plan,
            plugins,
            opts,
            verdicts: (usize::MAX, Vec::new()),
            saved_states,
        })
    }

    /// Whether a live process other than this one holds the runner lease of `rec`.
    pub fn driven_elsewhere(rec: &RolloutRecord) -> Option<u32> {
        rec.runner_pid.filter(|&pid| pid != std::process::id() && process_alive(pid))
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    fn load(&self) -> Result<(RolloutRecord, State), RunError> {
        let rec = self.store.rollout(&self.id)?;
        let state = serde_json::from_str(&rec.state)
            .map_err(|e| RunError::Corrupt { id: self.id.clone(), message: e.to_string() })?;
        Ok((rec, state))
    }

    /// Drives the rollout until it ends, or (without `wait_for_humans`) until it waits for a human.
    pub fn run(&mut self, reporter: &mut dyn Reporter) -> Result<Phase, RunError> {
        let mut announced_wait = None;
        let mut announced_hold = None;
        loop {
            let (rec, state) = self.load()?;
            if state.phase.is_terminal() {
                return Ok(state.phase);
            }
            match self.policy_gate(&state) {
                Gate::Go(entries) if entries.is_empty() => {}
                Gate::Go(entries) => {
                    let commit = Commit { state: None, entries: entries.clone(), plugin_states: vec![], at: now_ms() };
                    self.store.commit(&self.id, rec.version, commit)?;
                    reporter.committed(&entries, &state, &self.plan);
                }
                Gate::Pause(why, entries) => {
                    let event = Event::Pause { reason: Some(why) };
                    self.commit_outcome(&rec, &state, CommandOutcome { event, entries }, reporter)?;
                    continue;
                }
                Gate::Hold(why) => {
                    if announced_hold != Some(state.issued) {
                        let note = policy_note(&self.opts.actor, state.stage, why);
                        let commit =
                            Commit { state: None, entries: vec![note.clone()], plugin_states: vec![], at: now_ms() };
                        self.store.commit(&self.id, rec.version, commit)?;
                        reporter.committed(&[note], &state, &self.plan);
                        announced_hold = Some(state.issued);
                    }
                    if !self.opts.wait_for_humans {
                        return Ok(state.phase);
                    }
                    self.sleep_unless_changed(&rec, POLICY_RECHECK)?;
                    continue;
                }
            }
            let Some(command) = state.outstanding.clone() else {
                if state.phase == Phase::Pending {
                    self.commit_outcome(
                        &rec,
                        &state,
                        CommandOutcome { event: Event::Start, entries: vec![] },
                        reporter,
                    )?;
                    continue;
                }
                if !self.opts.wait_for_humans {
                    return Ok(state.phase);
                }
                if announced_wait != Some(state.issued) {
                    reporter.waiting(&self.id, &state);
                    announced_wait = Some(state.issued);
                }
                self.sleep_unless_changed(&rec, POLL_INTERVAL)?;
                continue;
            };
            if state.errors > 0 {
                let backoff = RETRY_DELAY.saturating_mul(1 << (state.errors - 1).min(6)).min(MAX_RETRY_DELAY);
                if self.sleep_unless_changed(&rec, backoff)? {
                    continue;
                }
            }
            let outcome = match command {
                Command::Wait { seconds } => match self.wait(&rec, &state, seconds, reporter)? {
                    true => continue,
                    false => CommandOutcome { event: Event::TimerElapsed, entries: vec![] },
                },
                other => self.execute(&other, &state),
            };
            self.commit_outcome(&rec, &state, outcome, reporter)?;
        }
    }

    /// Asks the policy whether to go on: before the start and at the end of each stage (windows,
    /// freezes, the error budget), between steps under `on_window_close = "pause"`, and before an
    /// apply released by an approval or a resume while the window is closed.
    fn policy_gate(&mut self, state: &State) -> Gate {
        use crate::policy::{Boundary, budget_applies, time_hold};
        let policy = self.spec.policy.clone();
        let now = jiff::Timestamp::now();
        if let Some(Command::Apply { .. }) = state.outstanding {
            return time_hold(&policy, Boundary::Start, now).map_or(Gate::Go(vec![]), Gate::Hold);
        }
        if state.pause_requested {
            return Gate::Go(vec![]);
        }
        let boundary = match (&state.outstanding, state.phase) {
            (None, Phase::Pending) => Boundary::Start,
            (Some(Command::Decide { stage }), _) if stage + 1 < self.plan.stages.len() => {
                Boundary::StageEnd { next: stage + 1 }
            }
            (Some(Command::Wait { .. } | Command::Verify { .. }), _) => Boundary::Step,
            _ => return Gate::Go(vec![]),
        };
        let actor = self.opts.actor.clone();
        if let Some(why) = time_hold(&policy, boundary, now) {
            return Gate::Pause(why.clone(), vec![policy_note(&actor, state.stage, why)]);
        }
        if budget_applies(&policy, boundary) {
            let next = match boundary {
                Boundary::StageEnd { next } => next,
                _ => 0,
            };
            let (verdict, entry) = self.ask_budget(next);
            if !verdict.ok {
                let why = format!("policy holds the rollout: {}; `upshift resume` continues", verdict.reason);
                return Gate::Pause(why.clone(), vec![entry, policy_note(&actor, state.stage, why)]);
            }
            return Gate::Go(vec![entry]);
        }
        Gate::Go(vec![])
    }

    /// Asks the error-budget verifier before stage `next`, as a verification of the units applied so far.
    fn ask_budget(&mut self, next: usize) -> (crate::policy::gates::BudgetVerdict, NewEntry) {
        let budget = self.spec.policy.error_budget.clone().expect("asked only with an error budget");
        let units = if next == 0 { vec![] } else { self.plan.units_through(next - 1) };
        let check = Check {
            rollout_id: self.id.clone(),
            stage_index: next as u32,
            stage_name: self.plan.stages.get(next).map_or_else(String::new, |s| s.name.clone()),
            from_version: self.spec.from.clone(),
            to_version: self.spec.to.clone(),
            weight: next.checked_sub(1).and_then(|s| self.weight_through(s)),
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

    /// Sleeps `total`, returning early with `true` if the rollout changed meanwhile.
    fn sleep_unless_changed(&self, rec: &RolloutRecord, total: Duration) -> Result<bool, RunError> {
        let until = std::time::Instant::now() + total;
        loop {
            let now = std::time::Instant::now();
            if now >= until {
                return Ok(false);
            }
            sleep(POLL_INTERVAL.min(until - now));
            if self.store.rollout(&self.id)?.version != rec.version {
                return Ok(true);
            }
        }
    }

    /// Waits out a bake; the due time is stored, so a restarted runner keeps the original deadline.
    /// Returns `true` if the rollout changed meanwhile (the wait is abandoned).
    fn wait(
        &mut self,
        rec: &RolloutRecord,
        state: &State,
        seconds: u64,
        reporter: &mut dyn Reporter,
    ) -> Result<bool, RunError> {
        let due = match self.store.timer(&self.id, state.issued)? {
            Some(due) => due,
            None => {
                let due = now_ms().saturating_add(i64::try_from(seconds.saturating_mul(1000)).unwrap_or(i64::MAX));
                self.store.set_timer(&self.id, state.issued, due)?;
                due
            }
        };
        let mut next_report = 0i64;
        loop {
            let now = now_ms();
            if now >= due {
                return Ok(false);
            }
            let remaining = Duration::from_millis((due - now) as u64);
            if seconds > 0 && now >= next_report {
                reporter.baking(state, &self.plan, remaining);
                next_report = now + BAKE_REPORT_EVERY.as_millis() as i64;
            }
            if self.sleep_unless_changed(rec, remaining.min(POLL_INTERVAL))? {
                return Ok(true);
            }
        }
    }

    fn info(&self) -> RolloutInfo {
        RolloutInfo {
            id: self.id.clone(),
            name: self.spec.name.clone(),
            from_version: self.spec.from.clone(),
            to_version: self.spec.to.clone(),
            units: self.plan.units.clone(),
            traffic_split: self.plan.traffic_split,
        }
    }

    /// The traffic weight in force once stages `0..=stage` are applied.
    fn weight_through(&self, stage: usize) -> Option<u8> {
        self.plan.stages.iter().take(stage + 1).filter_map(|s| s.weight).next_back()
    }

    pub(super) fn operation(
        &self,
        command: &Command,
        stage_index: usize,
        weight: Option<u8>,
        units: Vec<String>,
    ) -> Operation {
        let stage_name = self.plan.stages.get(stage_index).map_or_else(|| "finalize".to_string(), |s| s.name.clone());
        Operation {
            id: command.operation_id(&self.id).unwrap_or_default(),
            rollout_id: self.id.clone(),
            config: self.plugins.target_config.clone(),
            from_version: self.spec.from.clone(),
            to_version: self.spec.to.clone(),
            stage_index: stage_index as u32,
            stage_name,
            weight,
            units,
        }
    }

    /// Carries out a plugin command (anything but a wait).
    fn execute(&mut self, command: &Command, state: &State) -> CommandOutcome {
        match *command {
            Command::Apply { stage } => self.apply(command, stage),
            Command::Rollback { through } => self.rollback(command, through),
            Command::Finalize => self.finalize(command),
            Command::Verify { stage, round } => self.verify(stage, round),
            Command::Decide { stage } => self.decide(stage, state),
            Command::Wait { .. } => CommandOutcome { event: Event::TimerElapsed, entries: vec![] },
        }
    }

    /// Runs verification round `round` of `stage`: every verifier whose `count` reaches it.
    fn verify(&mut self, stage: usize, round: u32) -> CommandOutcome {
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
            weight: self.weight_through(stage),
            units: self.plan.units_through(stage),
            attempt: round,
        };
        let (mut fails, mut inconclusive, mut errors, mut entries) = (vec![], vec![], vec![], vec![]);
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
                    errors.push(e.to_string());
                    format!("verify {}: error: {e}", v.name)
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
            Event::VerifyError { message: errors.join("; ") }
        } else if !inconclusive.is_empty() {
            Event::VerdictInconclusive { reason: inconclusive.join("; ") }
        } else {
            Event::VerdictPass
        };
        CommandOutcome { event, entries }
    }

    /// Asks the strategy what follows `stage`.
    fn decide(&mut self, stage: usize, state: &State) -> CommandOutcome {
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
                let message = format!("strategy decision errored: {e}");
                (Event::DecideError { message: e.to_string() }, message)
            }
        };
        CommandOutcome { event, entries: vec![entry("call", Some(stage), message, detail)] }
    }

    /// The plugin states that differ from what was last persisted.
    fn changed_states(&self) -> Vec<(String, std::collections::BTreeMap<String, String>)> {
        self.plugins.states().into_iter().filter(|s| !self.saved_states.contains(s)).collect()
    }

    /// Commits an outcome and the transition it causes in one transaction. If an operator changed
    /// the rollout meanwhile, the outcome applies to the new state when the same command is still
    /// outstanding; otherwise it is journaled as discarded.
    fn commit_outcome(
        &mut self,
        rec: &RolloutRecord,
        state: &State,
        outcome: CommandOutcome,
        reporter: &mut dyn Reporter,
    ) -> Result<(), RunError> {
        let outcome = CommandOutcome { event: bounds::event(outcome.event), ..outcome };
        let (mut rec, mut state) = (rec.clone(), state.clone());
        let issued = state.issued;
        loop {
            if state.issued != issued {
                let mut entries = outcome.entries.clone();
                entries.push(NewEntry {
                    actor: self.opts.actor.clone(),
                    kind: EntryKind::Note,
                    event: Some(outcome.event.name().to_string()),
                    from: None,
                    to: None,
                    stage: Some(state.stage),
                    message: format!(
                        "{} arrived after the rollout moved on to {}; not applied",
                        outcome.event.name(),
                        state.phase
                    ),
                    detail: None,
                });
                let commit = Commit {
                    state: None,
                    entries: entries.clone(),
                    plugin_states: self.changed_states(),
                    at: now_ms(),
                };
                self.store.commit(&self.id, rec.version, commit)?;
                self.saved_states = self.plugins.states();
                reporter.committed(&entries, &state, &self.plan);
                return Ok(());
            }
            let t = state.step(&self.plan.context, &outcome.event).map_err(|e| RunError::Engine {
                id: self.id.clone(),
                event: e.event,
                phase: e.phase,
            })?;
            let mut entries = outcome.entries.clone();
            entries.push(NewEntry {
                actor: self.opts.actor.clone(),
                kind: EntryKind::Transition,
                event: Some(outcome.event.name().to_string()),
                from: Some(state.phase.name().to_string()),
                to: Some(t.state.phase.name().to_string()),
                stage: Some(t.state.stage),
                message: transition_text(&t.state, &self.plan),
                detail: serde_json::to_value(&outcome.event).ok(),
            });
            let json = serde_json::to_string(&t.state)
                .map_err(|e| RunError::Corrupt { id: self.id.clone(), message: e.to_string() })?;
            let commit = Commit {
                state: Some((json, t.state.phase.name())),
                entries: entries.clone(),
                plugin_states: self.changed_states(),
                at: now_ms(),
            };
            match self.store.commit(&self.id, rec.version, commit) {
                Ok(_) => {
                    self.saved_states = self.plugins.states();
                    reporter.committed(&entries, &t.state, &self.plan);
                    return Ok(());
                }
                Err(StoreError::Conflict { .. }) => {
                    (rec, state) = self.load()?;
                }
                Err(e) => return Err(e.into()),
            }
        }
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

/// One line saying where the rollout now stands.
fn transition_text(state: &State, plan: &Plan) -> String {
    let stage = |i: usize| {
        plan.stages
            .get(i)
            .map_or_else(|| "finalize".to_string(), |s| format!("stage {}/{} {}", i + 1, plan.stages.len(), s.name))
    };
    let said = match &state.outstanding {
        Some(Command::Apply { stage: i }) => format!("applying {}", stage(*i)),
        Some(Command::Wait { seconds }) => format!("baking {} for {seconds}s", stage(state.stage)),
        Some(Command::Verify { stage: i, round }) => format!("verifying {} (round {round})", stage(*i)),
        Some(Command::Decide { stage: i }) => format!("{} verified; asking the strategy what follows", stage(*i)),
        Some(Command::Rollback { through }) => format!("rolling back stages 1 to {}", through + 1),
        Some(Command::Finalize) => "finalizing".to_string(),
        None => state.phase.name().to_string(),
    };
    match (&state.note, &state.half_done) {
        (_, Some(h)) => format!("{said}: {h}"),
        (Some(n), None) if state.outstanding.is_none() || state.phase == Phase::RollingBack => format!("{said}: {n}"),
        _ => said,
    }
}

/// A call's log records as the journal keeps them: each with its level as the contract spells it
/// (`trace`, `debug`, `info`, `warn`, `error`), its message and its fields; and how many were dropped.
pub(super) fn logs_json(logs: &[LogRecord], dropped: usize) -> serde_json::Value {
    use crate::runtime::LogLevel;
    let level = |l: LogLevel| match l {
        LogLevel::Trace => "trace",
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    };
    let records: Vec<_> =
        logs.iter().map(|l| json!({ "level": level(l.level), "message": l.message, "fields": l.fields })).collect();
    json!({ "records": records, "dropped": dropped })
}

pub(super) fn entry(kind: &str, stage: Option<usize>, message: String, detail: serde_json::Value) -> NewEntry {
    NewEntry {
        actor: detail["plugin"].as_str().map_or_else(|| "plugin".to_string(), |p| format!("plugin {p}")),
        kind: if kind == "call" { EntryKind::Call } else { EntryKind::Note },
        event: None,
        from: None,
        to: None,
        stage,
        message,
        detail: Some(detail),
    }
}

pub(super) fn call_entry<T>(
    plugin: &str,
    call: &str,
    stage: Option<usize>,
    op_id: &str,
    result: &Result<T, CallError>,
    (logs, dropped): (&[LogRecord], usize),
    ok: impl FnOnce(&T) -> String,
) -> NewEntry {
    let mut detail = json!({ "plugin": plugin, "call": call, "operation": op_id, "logs": logs_json(logs, dropped) });
    let message = match result {
        Ok(v) => ok(v),
        Err(e) => {
            detail["error"] = json!(e.to_string());
            detail["limit"] = json!(e.limit());
            detail["retryable"] = json!(e.retryable());
            format!("{call} failed: {e}")
        }
    };
    entry("call", stage, message, detail)
}
