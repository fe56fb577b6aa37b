//! The runner: drives one rollout to a terminal phase (or to a human's turn) by carrying out the
//! machine's outstanding command, committing its outcome and the transition in one transaction,
//! and repeating. Everything is re-read from the store at each step, so a crash at any point
//! resumes exactly where the journal says: an interrupted command is re-sent as it was.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::bounds;
use super::entries::{policy_note, transition_text};
use super::now_ms;
use super::plan::Plan;
use super::plugins::RolloutPlugins;
use crate::engine::{Command, Event, Phase, State};
use crate::runtime::{LoadError, Operation, RolloutInfo, Runtime, Verdict};
use crate::spec::RolloutSpec;
use crate::store::{
    Commit, EntryKind, Fence, GroupCommitter, Lease, NewEntry, RolloutHead, RolloutRecord, Store, StoreError,
};
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
        "rollout {id} is being driven by another upshift process ({}); control it with approve/pause/resume/abort",
        holder.describe()
    )]
    Leased { id: String, holder: Lease },
    /// A rollout created by `run --dev`, opened by a caller that did not say `--dev`.
    #[error(
        "rollout {id} was started by `upshift run --dev` with the plugin builds it recorded: \
         `upshift resume --dev {id}` continues it with those builds, `upshift abort {id}` rolls it back"
    )]
    Dev { id: String },
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
    /// The caller accepts a rollout created by `upshift run --dev` (`resume --dev`, `run --dev`,
    /// and `abort`, which may always roll one back). Without it, opening one is refused.
    pub dev: bool,
    /// A controller's mode (`upshift serve`): instead of sleeping through a bake longer than
    /// [`super::waits::YIELD_WAITS_OVER`], or a window that holds the rollout, [`Runner::drive`]
    /// returns [`Halt::Timer`] so the thread is free until the timer is due; and the runner lease
    /// outlives the runner (the controller keeps holding it while the rollout is parked, and gives
    /// it back itself).
    pub controller: bool,
    /// Set by the controller when it shuts down: the runner stops at the next step boundary (an
    /// in-flight plugin call finishes or reaches its deadline, and its outcome is committed first).
    pub stop: Option<Arc<AtomicBool>>,
    /// The controller's group committer: the runner's commits go through it, with those of every
    /// other rollout ready at the same moment ([`crate::store::GroupCommitter`]). `None`: the
    /// runner commits on its own store connection.
    pub committer: Option<Arc<GroupCommitter>>,
}

/// Why [`Runner::drive`] returned, with the phase the rollout is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Halt {
    /// A terminal phase.
    Ended(Phase),
    /// It waits for a human (approval, resume); only without `wait_for_humans`.
    Human(Phase),
    /// It waits for a timer due at this time (ms since the epoch); only in controller mode.
    Timer { phase: Phase, due_ms: i64 },
    /// The [`RunOptions::stop`] flag was set.
    Stopped(Phase),
}

impl Halt {
    pub fn phase(self) -> Phase {
        match self {
            Halt::Ended(p) | Halt::Human(p) | Halt::Stopped(p) | Halt::Timer { phase: p, .. } => p,
        }
    }
}

pub struct Runner<'s> {
    pub(super) store: &'s mut Store,
    pub(super) id: String,
    pub(super) spec: RolloutSpec,
    pub(super) plan: Plan,
    pub(super) plugins: RolloutPlugins,
    pub(super) opts: RunOptions,
    /// Verdicts of the current stage, for the strategy's `next`.
    pub(super) verdicts: (usize, Vec<Verdict>),
    /// The plugin states as last persisted, so a commit writes only those that changed.
    saved_states: Vec<(String, std::collections::BTreeMap<String, String>)>,
    /// This process's runner lease, carried by every commit.
    pub(super) fence: Fence,
}

impl Drop for Runner<'_> {
    fn drop(&mut self) {
        if !self.opts.controller {
            let _ = self.store.release_lease(&self.id);
        }
    }
}

/// What carrying out one command produced.
pub(super) struct CommandOutcome {
    pub(super) event: Event,
    pub(super) entries: Vec<NewEntry>,
}

impl<'s> Runner<'s> {
    /// Takes over rollout `id`: takes its runner lease, then loads its spec and plan from the store
    /// and its plugins (with their persisted state) through `runtime`. The lease comes first: a
    /// rollout another process drives costs no plugin loading, and a takeover shows at once.
    pub fn open(store: &'s mut Store, runtime: &Runtime, id: &str, opts: RunOptions) -> Result<Self, RunError> {
        let rec = store.rollout(id)?;
        let corrupt = |e: serde_json::Error| RunError::Corrupt { id: id.to_string(), message: e.to_string() };
        let spec: RolloutSpec = serde_json::from_str(&rec.spec).map_err(corrupt)?;
        let plan: Plan = serde_json::from_str(&rec.plan).map_err(corrupt)?;
        if plan.dev && !opts.dev {
            return Err(RunError::Dev { id: id.to_string() });
        }
        let fence = Self::lease_of(store, &rec)?;
        let loaded = store.plugin_states(id).map_err(RunError::from).and_then(|states| {
            let trust =
                TrustPolicy { allow_unsigned: opts.trust.allow_unsigned || plan.allow_unsigned, ..opts.trust.clone() };
            Ok(RolloutPlugins::load(runtime, &spec, &trust, |key| states.get(key).cloned().unwrap_or_default())?)
        });
        match loaded {
            Ok(plugins) => Ok(Self::leased(store, id, spec, plan, plugins, opts, fence)),
            Err(e) => {
                // A controller keeps the lease while it retries; a command lets go of it.
                if !opts.controller {
                    let _ = store.release_lease(id);
                }
                Err(e)
            }
        }
    }

    /// The lease of `rec` if this process holds it with more than half its time left (its renewal
    /// thread keeps it so; a controller stepping a rollout again writes nothing for it), else
    /// [`Runner::lease`].
    fn lease_of(store: &Store, rec: &RolloutRecord) -> Result<Fence, RunError> {
        let ttl = crate::store::lease_ttl().as_millis() as i64;
        match rec.lease.as_ref().filter(|l| l.mine() && l.expires_at - now_ms() > ttl / 2) {
            Some(l) => Ok(Fence { holder: l.holder.clone(), epoch: l.epoch }),
            None => Self::lease(store, &rec.id),
        }
    }

    fn lease(store: &Store, id: &str) -> Result<Fence, RunError> {
        match store.acquire_lease(id)? {
            Ok(fence) => Ok(fence),
            Err(holder) => Err(RunError::Leased { id: id.to_string(), holder }),
        }
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
        let fence = Self::lease(store, id)?;
        Ok(Self::leased(store, id, spec, plan, plugins, opts, fence))
    }

    fn leased(
        store: &'s mut Store,
        id: &str,
        spec: RolloutSpec,
        plan: Plan,
        plugins: RolloutPlugins,
        opts: RunOptions,
        fence: Fence,
    ) -> Self {
        let saved_states = plugins.states();
        Runner {
            store,
            id: id.to_string(),
            spec,
            plan,
            plugins,
            opts,
            verdicts: (usize::MAX, Vec::new()),
            saved_states,
            fence,
        }
    }

    /// The live holder of `rec`'s runner lease, this process included.
    pub fn driver(rec: &RolloutRecord) -> Option<&Lease> {
        rec.lease.as_ref().filter(|l| l.live(now_ms()))
    }

    /// The live holder of `rec`'s runner lease, if it is another process.
    pub fn driven_elsewhere(rec: &RolloutRecord) -> Option<&Lease> {
        Self::driver(rec).filter(|l| !l.mine())
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// `commit` carrying this runner's lease.
    fn fenced(&self, commit: Commit<'static>) -> Commit<'static> {
        Commit { fence: Some(self.fence.clone()), ..commit }
    }

    /// Commits on this runner's store connection, or through the controller's group committer.
    fn commit(&mut self, version: i64, commit: Commit<'static>) -> Result<i64, StoreError> {
        match &self.opts.committer {
            Some(group) => group.commit(&self.id, version, commit),
            None => self.store.commit(&self.id, version, commit),
        }
    }

    /// The rollout as stored, if this runner still holds its lease: one taken over (this process
    /// was stopped or cut off past its lease) is left before any plugin is called again.
    /// An ended rollout is returned whoever holds it: nothing more is called for it (and the commit
    /// that ended it gave the lease back).
    fn load(&self) -> Result<(RolloutHead, State), RunError> {
        let rec = self.store.rollout_head(&self.id)?;
        let state: State = serde_json::from_str(&rec.state)
            .map_err(|e| RunError::Corrupt { id: self.id.clone(), message: e.to_string() })?;
        let held = rec.lease.as_ref().is_some_and(|l| l.holder == self.fence.holder && l.epoch == self.fence.epoch);
        if !held && !state.phase.is_terminal() {
            let by = rec.lease.as_ref().map_or_else(|| "nobody (released)".to_string(), Lease::describe);
            return Err(StoreError::Fenced { id: self.id.clone(), epoch: self.fence.epoch, by }.into());
        }
        Ok((rec, state))
    }

    /// Drives the rollout until it ends, or (without `wait_for_humans`) until it waits for a human.
    pub fn run(&mut self, reporter: &mut dyn Reporter) -> Result<Phase, RunError> {
        self.drive(reporter).map(Halt::phase)
    }

    /// [`Runner::run`], saying why it returned.
    pub fn drive(&mut self, reporter: &mut dyn Reporter) -> Result<Halt, RunError> {
        let mut announced_wait = None;
        let mut announced_hold = None;
        loop {
            let (rec, state) = self.load()?;
            if state.phase.is_terminal() {
                return Ok(Halt::Ended(state.phase));
            }
            if self.stopping() {
                return Ok(Halt::Stopped(state.phase));
            }
            match self.policy_gate(&state) {
                Gate::Go(entries) if entries.is_empty() => {}
                Gate::Go(entries) => {
                    let commit = self.fenced(Commit {
                        state: None,
                        entries: entries.clone(),
                        plugin_states: vec![],
                        at: now_ms(),
                        fence: None,
                        timer: None,
                    });
                    self.commit(rec.version, commit)?;
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
                        let commit = self.fenced(Commit {
                            state: None,
                            entries: vec![note.clone()],
                            plugin_states: vec![],
                            at: now_ms(),
                            fence: None,
                            timer: None,
                        });
                        self.commit(rec.version, commit)?;
                        reporter.committed(&[note], &state, &self.plan);
                        announced_hold = Some(state.issued);
                    }
                    if self.opts.controller {
                        let due_ms = now_ms().saturating_add(POLICY_RECHECK.as_millis() as i64);
                        return Ok(Halt::Timer { phase: state.phase, due_ms });
                    }
                    if !self.opts.wait_for_humans {
                        return Ok(Halt::Human(state.phase));
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
                    return Ok(Halt::Human(state.phase));
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
            if let (Command::Wait { seconds }, true) = (&command, self.opts.controller) {
                let due_ms = self.due(&state, *seconds)?;
                if due_ms - now_ms() > super::waits::YIELD_WAITS_OVER.as_millis() as i64 {
                    return Ok(Halt::Timer { phase: state.phase, due_ms });
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

    pub(super) fn info(&self) -> RolloutInfo {
        RolloutInfo {
            id: self.id.clone(),
            name: self.spec.name.clone(),
            from_version: self.spec.from.clone(),
            to_version: self.spec.to.clone(),
            units: self.plan.units.clone(),
            traffic_split: self.plan.traffic_split,
        }
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

    /// The plugin states that differ from what was last persisted.
    fn changed_states(&self) -> Vec<(String, std::collections::BTreeMap<String, String>)> {
        self.plugins.states().into_iter().filter(|s| !self.saved_states.contains(s)).collect()
    }

    /// Commits an outcome and the transition it causes in one transaction. If an operator changed
    /// the rollout meanwhile, the outcome applies to the new state when the same command is still
    /// outstanding; otherwise it is journaled as discarded.
    fn commit_outcome(
        &mut self,
        rec: &RolloutHead,
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
                let commit = self.fenced(Commit {
                    state: None,
                    entries: entries.clone(),
                    plugin_states: self.changed_states(),
                    at: now_ms(),
                    fence: None,
                    timer: None,
                });
                self.commit(rec.version, commit)?;
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
            let at = now_ms();
            // A bake starts now: its due time is stored with the transition that starts it.
            let timer = match t.state.outstanding {
                Some(Command::Wait { seconds }) => Some((t.state.issued, super::waits::due_after(at, seconds))),
                _ => None,
            };
            let commit = self.fenced(Commit {
                state: Some((json, t.state.phase.name())),
                entries: entries.clone(),
                plugin_states: self.changed_states(),
                at,
                fence: None,
                timer,
            });
            match self.commit(rec.version, commit) {
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
