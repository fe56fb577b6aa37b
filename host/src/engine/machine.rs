//! The rollout state machine: `step(context, state, event) -> (state, commands)`. Pure: no I/O, no
//! clock, no async. A transition that is not allowed is an error, never a silent no-op.

use serde::{Deserialize, Serialize};

use super::command::Command;
use super::event::{Decision, Event};
use super::phase::Phase;
use super::plan::{Context, OnError, OnFail, OnInconclusive};

/// The note of a rollout paused by an operator's `pause` (a pause without a reason).
pub const OPERATOR_PAUSE: &str = "paused by operator";

/// Where a rollout stands. Persisted whole after every transition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub phase: Phase,
    /// The current stage; equals the number of stages once every stage is through (finalize).
    pub stage: usize,
    /// The highest stage an apply was ever sent for (emitted by `step`): what a rollback must undo.
    pub touched: Option<usize>,
    /// What the driver must do now; `None` while waiting for an event from outside.
    pub outstanding: Option<Command>,
    /// Bumped whenever a new command becomes outstanding, so the driver can tell a re-send (same
    /// number, e.g. after a crash) from a new command (e.g. a bake restarted after a pause).
    pub issued: u64,
    /// Passing verification rounds in this stage.
    pub passes: u32,
    /// Inconclusive rounds in this stage.
    pub inconclusive: u32,
    /// Consecutive errors of the outstanding command.
    pub errors: u32,
    /// Times this stage's bake was extended by the strategy.
    pub extensions: u32,
    /// An approval was given for this stage index (so entering it does not ask again).
    pub approved: Option<usize>,
    /// A pause asked for while a command was in flight, honoured at the next boundary.
    pub pause_requested: bool,
    /// Why that pause was asked for, when not by an operator.
    #[serde(default)]
    pub pause_reason: Option<String>,
    /// Where `resume` returns to.
    pub resume_to: Option<Box<Resumable>>,
    /// Why the rollout is where it is (paused, awaiting approval, rolled back, failed), for humans.
    pub note: Option<String>,
    /// In `failed`: what is left half-done for a human to repair.
    pub half_done: Option<String>,
}

/// The part of a state a pause sets aside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resumable {
    pub phase: Phase,
    pub outstanding: Option<Command>,
    /// The note in force before the pause (e.g. why an approval is needed), restored on resume.
    pub note: Option<String>,
}

/// A transition that is not allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{event} is not allowed while the rollout is {phase}{hint}")]
pub struct TransitionError {
    pub phase: Phase,
    pub event: &'static str,
    pub hint: String,
}

/// The result of a transition: the new state and the commands it issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub state: State,
    pub commands: Vec<Command>,
}

/// The state of a new rollout.
pub fn start() -> State {
    State {
        phase: Phase::Pending,
        stage: 0,
        touched: None,
        outstanding: None,
        issued: 0,
        passes: 0,
        inconclusive: 0,
        errors: 0,
        extensions: 0,
        approved: None,
        pause_requested: false,
        pause_reason: None,
        resume_to: None,
        note: None,
        half_done: None,
    }
}

impl State {
    /// Applies `event`, returning the next state and the command it issued, if any.
    pub fn step(&self, ctx: &Context, event: &Event) -> Result<Transition, TransitionError> {
        let mut next = self.clone();
        next.apply(ctx, event)?;
        let commands: Vec<Command> =
            if next.issued != self.issued { next.outstanding.clone().into_iter().collect() } else { vec![] };
        // Only an apply actually sent counts as touched: one set aside by a pause was never sent.
        for c in &commands {
            if let Command::Apply { stage } = c {
                next.touched = Some(next.touched.map_or(*stage, |t| t.max(*stage)));
            }
        }
        Ok(Transition { state: next, commands })
    }

    fn refuse(&self, event: &Event, hint: &str) -> TransitionError {
        TransitionError { phase: self.phase, event: event.name(), hint: hint.to_string() }
    }

    fn apply(&mut self, ctx: &Context, event: &Event) -> Result<(), TransitionError> {
        use Phase as P;
        match (self.phase, event) {
            (P::Pending, Event::Start) => self.enter_stage(ctx, 0),

            (P::Applying, Event::ApplyOk) => {
                self.errors = 0;
                let bake = ctx.stages[self.stage].bake_seconds;
                self.issue(P::Baking, Command::Wait { seconds: bake });
                self.honour_pause();
            }
            (P::Applying, Event::ApplyError { message, retryable }) => {
                if *retryable && self.retry_allowed(ctx) {
                    self.errors += 1;
                } else {
                    let why = format!("apply of stage {} failed: {message}", self.stage_name(ctx));
                    self.on_failure(ctx.policy.on_fail, why);
                }
            }

            (P::Baking, Event::TimerElapsed) => {
                let stage = &ctx.stages[self.stage];
                if stage.verify && ctx.rounds > 0 {
                    let round = self.passes + self.inconclusive + 1;
                    self.issue(P::Verifying, Command::Verify { stage: self.stage, round });
                } else {
                    self.issue(P::Verifying, Command::Decide { stage: self.stage });
                }
            }

            (P::Verifying, Event::VerdictPass) if self.verifying() => {
                self.errors = 0;
                self.passes += 1;
                if self.passes >= ctx.rounds {
                    self.issue(P::Verifying, Command::Decide { stage: self.stage });
                } else {
                    self.issue(P::Baking, Command::Wait { seconds: ctx.round_interval_seconds });
                }
                self.honour_pause();
            }
            (P::Verifying, Event::VerdictFail { reason }) if self.verifying() => {
                self.errors = 0;
                let why = format!("verification of stage {} failed: {reason}", self.stage_name(ctx));
                self.on_failure(ctx.policy.on_fail, why);
            }
            (P::Verifying, Event::VerdictInconclusive { reason }) if self.verifying() => {
                self.errors = 0;
                self.inconclusive += 1;
                let why = format!("verification of stage {} was inconclusive: {reason}", self.stage_name(ctx));
                match ctx.policy.on_inconclusive {
                    OnInconclusive::Pause => self.on_failure(OnFail::Pause, why),
                    OnInconclusive::Rollback => self.on_failure(OnFail::Rollback, why),
                    OnInconclusive::Retry if self.inconclusive > ctx.policy.max_inconclusive => {
                        let why =
                            format!("{why} ({} inconclusive rounds, more than max_inconclusive)", self.inconclusive);
                        self.on_failure(OnFail::Pause, why);
                    }
                    OnInconclusive::Retry => {
                        self.issue(P::Baking, Command::Wait { seconds: ctx.round_interval_seconds });
                        self.honour_pause();
                    }
                }
            }
            (P::Verifying, Event::VerifyError { message, retryable }) if self.verifying() => {
                let why = format!("verification of stage {} errored: {message}", self.stage_name(ctx));
                self.action_error(ctx, *retryable, why);
            }

            (P::Verifying, Event::Decided { decision }) if self.deciding() => {
                self.errors = 0;
                match decision {
                    Decision::Continue => {
                        let next = self.stage + 1;
                        self.enter_stage(ctx, next);
                    }
                    Decision::ExtendBake(seconds) => {
                        self.extensions += 1;
                        self.passes = 0;
                        self.inconclusive = 0;
                        self.issue(P::Baking, Command::Wait { seconds: *seconds });
                        self.honour_pause();
                    }
                    Decision::Hold(reason) => {
                        self.stage += 1;
                        self.reset_stage_counters();
                        self.approved = None;
                        self.wait(P::AwaitingApproval, Some(format!("strategy holds: {reason}")));
                        self.honour_pause();
                    }
                    Decision::RollBack(reason) => self.begin_rollback(format!("strategy rolled back: {reason}")),
                }
            }
            (P::Verifying, Event::DecideError { message, retryable }) if self.deciding() => {
                let why = format!("strategy decision after stage {} errored: {message}", self.stage_name(ctx));
                self.action_error(ctx, *retryable, why);
            }

            (P::AwaitingApproval, Event::Approve) => {
                self.approved = Some(self.stage);
                self.note = None;
                let stage = self.stage;
                self.enter_stage(ctx, stage);
            }

            (P::Pending | P::Baking | P::AwaitingApproval, Event::Pause { reason }) => {
                self.pause(reason.clone().unwrap_or_else(|| OPERATOR_PAUSE.into()))
            }
            (P::Applying | P::Verifying, Event::Pause { reason }) => {
                if self.pause_requested {
                    return Err(self.refuse(event, ": a pause is already requested"));
                }
                self.pause_requested = true;
                self.pause_reason = reason.clone();
            }
            (P::Paused, Event::Resume) => {
                let Some(to) = self.resume_to.take() else {
                    return Err(self.refuse(event, ": nothing to resume to"));
                };
                self.note = to.note;
                self.errors = 0;
                match to.outstanding {
                    Some(cmd) => self.issue(to.phase, cmd),
                    None => self.phase = to.phase,
                }
            }

            (phase, Event::Abort { reason })
                if !phase.is_terminal() && phase != P::RollingBack && phase != P::Finalizing =>
            {
                self.begin_rollback(format!("aborted: {reason}"));
            }
            (phase, Event::RollbackRequested { reason })
                if !phase.is_terminal() && phase != P::RollingBack && phase != P::Finalizing =>
            {
                self.begin_rollback(reason.clone());
            }
            (
                P::Applying | P::Baking | P::Verifying | P::AwaitingApproval | P::Paused,
                Event::DeadlineExceeded { what },
            ) => {
                self.pause_requested = false;
                self.pause_reason = None;
                self.on_failure(ctx.policy.on_fail, format!("deadline exceeded: {what}"));
            }

            (P::RollingBack, Event::RollbackOk) => {
                self.errors = 0;
                self.outstanding = None;
                self.phase = P::RolledBack;
            }
            (P::RollingBack, Event::RollbackError { message, retryable }) => {
                if *retryable && self.retry_allowed(ctx) {
                    self.errors += 1;
                } else {
                    let through = self.touched.map_or(0, |t| t + 1);
                    self.outstanding = None;
                    self.phase = P::Failed;
                    self.half_done = Some(format!(
                        "rollback failed: {message}; stages 1 to {through} may still be on the new version"
                    ));
                }
            }

            (P::Applying, Event::Drift { message }) => {
                self.errors = 0;
                let why = format!("stage {} did not take: {message}", self.stage_name(ctx));
                self.on_failure(ctx.policy.on_fail, why);
            }
            (P::Finalizing, Event::Drift { message }) => {
                self.errors = 0;
                self.on_failure(ctx.policy.on_fail, format!("finalize did not take: {message}"));
            }
            (P::RollingBack, Event::Drift { message }) => {
                let through = self.touched.map_or(0, |t| t + 1);
                self.errors = 0;
                self.outstanding = None;
                self.phase = P::Failed;
                self.half_done = Some(format!(
                    "rollback did not take: {message}; stages 1 to {through} may still be on the new version"
                ));
            }

            (P::Finalizing, Event::FinalizeOk) => {
                self.errors = 0;
                self.outstanding = None;
                self.phase = P::Succeeded;
            }
            (P::Finalizing, Event::FinalizeError { message, retryable }) => {
                if *retryable && self.retry_allowed(ctx) {
                    self.errors += 1;
                } else {
                    self.pause(format!("finalize failed: {message}; `resume` retries it, `abort` rolls back"));
                }
            }

            (_, Event::Approve) => {
                return Err(self.refuse(event, ": only a rollout awaiting approval can be approved"));
            }
            (P::Paused, Event::Pause { .. }) => return Err(self.refuse(event, ": it is already paused")),
            (_, Event::Resume) => return Err(self.refuse(event, ": only a paused rollout can be resumed")),
            (phase, _) if phase.is_terminal() => return Err(self.refuse(event, ": the rollout has ended")),
            _ => return Err(self.refuse(event, "")),
        }
        Ok(())
    }

    fn stage_name<'c>(&self, ctx: &'c Context) -> &'c str {
        ctx.stages.get(self.stage).map_or("finalize", |s| s.name.as_str())
    }

    fn verifying(&self) -> bool {
        matches!(self.outstanding, Some(Command::Verify { .. }))
    }

    fn deciding(&self) -> bool {
        matches!(self.outstanding, Some(Command::Decide { .. }))
    }

    /// Makes `command` the outstanding one, in `phase`.
    fn issue(&mut self, phase: Phase, command: Command) {
        self.phase = phase;
        self.outstanding = Some(command);
        self.issued += 1;
    }

    /// Waits in `phase` for an event from outside.
    fn wait(&mut self, phase: Phase, note: Option<String>) {
        self.phase = phase;
        self.outstanding = None;
        self.issued += 1;
        self.note = note;
    }

    fn reset_stage_counters(&mut self) {
        self.passes = 0;
        self.inconclusive = 0;
        self.errors = 0;
        self.extensions = 0;
    }

    /// Moves to stage `stage`: approval first if it needs one, then apply; past the last, finalize.
    fn enter_stage(&mut self, ctx: &Context, stage: usize) {
        self.stage = stage;
        self.reset_stage_counters();
        match ctx.stages.get(stage) {
            None => self.issue(Phase::Finalizing, Command::Finalize),
            Some(plan) if plan.approval && self.approved != Some(stage) => {
                let why =
                    plan.approval_reason.clone().unwrap_or_else(|| format!("stage {} requires approval", plan.name));
                self.wait(Phase::AwaitingApproval, Some(why));
            }
            Some(_) => self.issue(Phase::Applying, Command::Apply { stage }),
        }
        self.honour_pause();
    }

    /// A failed stage under `policy`: roll back, or pause with the reason.
    fn on_failure(&mut self, policy: OnFail, why: String) {
        match policy {
            OnFail::Rollback => self.begin_rollback(why),
            // The outstanding command is set aside: resuming re-runs what failed.
            OnFail::Pause => self.pause(why),
        }
    }

    /// Whether the error just reported for the outstanding command is re-sent rather than handed to
    /// the policy: `max_consecutive_errors = N` makes the policy act at the Nth error in a row, so
    /// the first N−1 are retried (with backoff, by the driver). A stored 0 acts like 1 (the spec
    /// refuses 0; rollouts recorded before that keep acting at the first error, as they did).
    fn retry_allowed(&self, ctx: &Context) -> bool {
        self.errors.saturating_add(1) < ctx.policy.max_consecutive_errors
    }

    /// An error of the outstanding verify or decide: retried, then the error policy. One that is
    /// not `retryable` goes to the policy at once (its message says why it is not retried).
    fn action_error(&mut self, ctx: &Context, retryable: bool, why: String) {
        if retryable && self.retry_allowed(ctx) {
            self.errors += 1;
            return;
        }
        let why = if retryable {
            format!(
                "{why} ({} in a row; max_consecutive_errors = {})",
                self.errors + 1,
                ctx.policy.max_consecutive_errors
            )
        } else {
            why
        };
        match ctx.policy.on_error {
            OnError::Pause => self.on_failure(OnFail::Pause, why),
            OnError::Rollback => self.on_failure(OnFail::Rollback, why),
        }
    }

    fn begin_rollback(&mut self, why: String) {
        self.pause_requested = false;
        self.pause_reason = None;
        self.resume_to = None;
        self.note = Some(why);
        self.errors = 0;
        match self.touched {
            Some(through) => self.issue(Phase::RollingBack, Command::Rollback { through }),
            None => {
                self.phase = Phase::RolledBack;
                self.outstanding = None;
                self.issued += 1;
            }
        }
    }

    /// Sets the current phase and command aside and waits for `resume`.
    fn pause(&mut self, why: String) {
        self.pause_requested = false;
        self.pause_reason = None;
        // Pausing a paused rollout (a deadline under `on_fail = "pause"`) keeps where it resumes to.
        if self.phase != Phase::Paused {
            self.resume_to = Some(Box::new(Resumable {
                phase: self.phase,
                outstanding: self.outstanding.clone(),
                note: self.note.clone(),
            }));
        }
        self.wait(Phase::Paused, Some(why));
    }

    /// A pause requested while a command was in flight takes effect at this boundary.
    fn honour_pause(&mut self) {
        if self.pause_requested && !self.phase.is_terminal() {
            let why = self.pause_reason.take().unwrap_or_else(|| OPERATOR_PAUSE.into());
            self.pause(why);
        }
    }
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
