//! The rollout commands: run, plan, validate, list, status, history, approve, pause, resume, abort.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use serde_json::json;
use upshift::engine::{Event, OPERATOR_PAUSE, Phase, State};
use upshift::policy::{self, Explanation, StageApproval, VersionChoice};
use upshift::rollout::start::{self, Loaded, Started};
use upshift::rollout::view::{self, Detail, Summary};
use upshift::rollout::{self, Plan, RunError, RunOptions, Runner};
use upshift::runtime::Runtime;
use upshift::spec::RolloutSpec;
use upshift::store::{JournalEntry, RolloutRecord, Store, StoreError};
use upshift::trust::TrustPolicy;

use super::exit;
use super::output::{Progress, print_json, say, warn};
use super::views::{self, stage_names};

#[derive(Debug, Args)]
pub struct SpecArgs {
    /// The rollout spec (TOML).
    pub spec: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Judge the spec's [policy] (release ages, windows, freezes) as of this time instead of now
    /// (RFC 3339, e.g. 2026-12-24T23:00:00Z).
    #[arg(long, value_name = "TIME")]
    pub at: Option<jiff::Timestamp>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The rollout spec (TOML).
    pub spec: PathBuf,
    /// Return (exit code 3) when the rollout waits for an approval or a resume, instead of waiting.
    #[arg(long)]
    pub no_wait: bool,
    /// Development loop: run the spec's plugin files as they are now, without re-pinning or
    /// re-signing after each rebuild. A file whose sha256 differs from its pin, or that is unsigned
    /// or signed by an untrusted key, runs anyway; each digest actually loaded and the dev mode are
    /// recorded in the audit trail (`upshift history`) and a warning goes to stderr. Not for
    /// production, never the default. The rollout keeps the builds it started with: only
    /// `upshift resume --dev ID` continues it (a later rebuild is refused by its digest; start a
    /// new `run --dev` for it), and `upshift abort ID` rolls it back.
    #[arg(long)]
    pub dev: bool,
    /// With --server: where the spec goes under the server's spec_root, whose plugin files and
    /// folders it names (default: the spec's path as given, when it is relative).
    #[arg(long, value_name = "PATH")]
    pub server_path: Option<String>,
}

#[derive(Debug, Args)]
pub struct JsonArg {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct IdArgs {
    /// The rollout id (`upshift list` shows them).
    pub id: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ControlArgs {
    /// The rollout id.
    pub id: String,
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The rollout id.
    pub id: String,
    /// Return (exit code 3) when the rollout waits for a human again, instead of waiting.
    #[arg(long)]
    pub no_wait: bool,
    /// Continue a rollout started by `upshift run --dev`, with the plugin builds it recorded at
    /// its start (a file rebuilt since is refused by its digest). Required for such a rollout.
    #[arg(long)]
    pub dev: bool,
}

#[derive(Debug, Args)]
pub struct PauseArgs {
    /// The rollout id.
    pub id: String,
    /// Why, for the audit trail and `status` (default: "paused by operator").
    #[arg(long)]
    pub reason: Option<String>,
}

#[derive(Debug, Args)]
pub struct AbortArgs {
    /// The rollout id.
    pub id: String,
    /// Why, for the audit trail.
    #[arg(long, default_value = "aborted by operator")]
    pub reason: String,
}

/// Who the journal names for commands typed by this user.
fn actor(command: &str) -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "operator".into());
    format!("{user} (upshift {command})")
}

fn runner_actor() -> String {
    format!("upshift run (pid {})", std::process::id())
}

/// Parses the spec and loads its plugins with the preflight (`rollout::start::load`): the one path
/// of `validate`, `plan` and `run`, in dev mode when `dev`. Nothing touches the store yet.
fn load(spec_path: &Path, trust: &TrustPolicy, dev: bool) -> anyhow::Result<(Runtime, Loaded)> {
    let spec = RolloutSpec::load(spec_path)?;
    let runtime = Runtime::new()?;
    let loaded = start::load(&runtime, spec_path, spec, trust, dev, &mut |w| warn(w))?;
    Ok((runtime, loaded))
}

/// How a terminal drives a rollout: as this process, to its end or (with `--no-wait`) to the first
/// human's turn.
fn run_options(trust: &TrustPolicy, no_wait: bool, dev: bool) -> RunOptions {
    RunOptions {
        actor: runner_actor(),
        wait_for_humans: !no_wait,
        trust: trust.clone(),
        dev,
        controller: false,
        stop: None,
        committer: None,
    }
}

pub fn run(state: &Path, trust: &TrustPolicy, args: RunArgs) -> anyhow::Result<ExitCode> {
    let (runtime, loaded) = load(&args.spec, trust, args.dev)?;
    let opts = run_options(trust, args.no_wait, args.dev);
    let mut store = Store::open(state)?;
    match start::start(&mut store, loaded, &args.spec, &opts.actor, jiff::Timestamp::now())? {
        Started::Continuing { id, phase, dev } => {
            say!("continuing rollout {id} ({phase}) from the journal");
            if args.dev && !dev {
                say!("it was not started with --dev: it runs the plugin builds its spec pinned, not the ones above");
            }
            drive(Runner::open(&mut store, &runtime, &id, opts)?)
        }
        Started::NothingChosen { line } => {
            say!("{line}");
            Ok(ExitCode::from(exit::SUCCESS))
        }
        Started::Held { name, reason } => {
            say!("{}", Started::held_line(&name, &reason));
            Ok(ExitCode::from(exit::NEEDS_HUMAN))
        }
        Started::Created { id, spec, plan, plugins } => {
            say!("rollout {id}: {} → {}, {} stages ({})", spec.from, spec.to, plan.stages.len(), stage_names(&plan));
            drive(Runner::with_plugins(&mut store, &id, *spec, plan, *plugins, opts)?)
        }
    }
}

/// Drives a rollout and reports where it ended.
fn drive(mut runner: Runner<'_>) -> anyhow::Result<ExitCode> {
    let phase = runner.run(&mut Progress)?;
    say!("rollout {}: {phase}", runner.id());
    Ok(exit::for_phase(phase))
}

/// The policy explanation of `plan`, with the approvals `plan` (if any) holds stages for.
fn explanation(
    spec: &RolloutSpec,
    choice: Option<VersionChoice>,
    plan: Option<&Plan>,
    now: jiff::Timestamp,
) -> Explanation {
    let approvals = plan
        .map(|p| {
            p.stages
                .iter()
                .filter_map(|s| s.approval_reason.clone().map(|reason| StageApproval { stage: s.name.clone(), reason }))
                .collect()
        })
        .unwrap_or_default();
    policy::explain(spec, choice, approvals, now)
}

pub fn plan(trust: &TrustPolicy, args: SpecArgs, validate_only: bool) -> anyhow::Result<ExitCode> {
    let (_runtime, Loaded { mut spec, mut plugins, .. }) = load(&args.spec, trust, false)?;
    let now = args.at.unwrap_or_else(jiff::Timestamp::now);
    let choice = start::choose_version(&args.spec, &mut spec, now)?;
    let has_policy = spec.policy != Default::default();
    if spec.to.is_empty() {
        // The version policy chose nothing: there is no rollout to plan, only the reasons.
        let explained = explanation(&spec, choice, None, now);
        if args.json {
            let out = json!({ "name": spec.name, "from": spec.from, "to": null, "valid": true, "stages": [], "policy": explained });
            print_json(&out)?;
        } else {
            if !validate_only {
                explained.version_lines().iter().for_each(|l| say!("{l}"));
            }
            say!("{}: {}", args.spec.display(), start::nothing_chosen(&spec));
        }
        return Ok(ExitCode::from(exit::SUCCESS));
    }
    let plan = rollout::prepare(&format!("{}-plan", spec.name), &spec, &mut plugins)?;
    let explained = has_policy.then(|| explanation(&spec, choice, Some(&plan), now));
    if args.json {
        let mut out = json!({
            "name": spec.name,
            "from": spec.from,
            "to": spec.to,
            "valid": true,
            "stages": plan.stages,
            "irreversible": plan.irreversible,
            "unstaged": plan.unstaged,
            "failure_policy": plan.context.policy,
            "verification": { "rounds": plan.context.rounds, "interval_seconds": plan.context.round_interval_seconds },
        });
        if let Some(e) = &explained {
            out["policy"] = serde_json::to_value(e)?;
        }
        print_json(&out)?;
        return Ok(ExitCode::from(exit::SUCCESS));
    }
    if validate_only {
        say!(
            "{}: valid: {} → {}, {} stages, {} verifiers",
            args.spec.display(),
            spec.from,
            spec.to,
            plan.stages.len(),
            spec.verifiers.len()
        );
        return Ok(ExitCode::from(exit::SUCCESS));
    }
    views::plan(&spec, &plan, explained.as_ref());
    Ok(ExitCode::from(exit::SUCCESS))
}

fn parse_state(rec: &RolloutRecord) -> anyhow::Result<(State, Plan)> {
    Ok(view::parse(rec)?)
}

pub fn list(state: &Path, args: JsonArg) -> anyhow::Result<ExitCode> {
    let rows = match Store::open_existing(state) {
        Ok(store) => store.list()?,
        Err(upshift::store::StoreError::Missing { .. }) => vec![],
        Err(e) => return Err(e.into()),
    };
    let summaries: Vec<Summary> = rows.iter().map(Summary::of).collect();
    print_list(&summaries, args.json, &format!("no rollouts in {}", state.display()))
}

/// `list`'s output, local or from a server; `empty` is said when there is no rollout.
pub fn print_list(rows: &[Summary], json: bool, empty: &str) -> anyhow::Result<ExitCode> {
    if json {
        print_json(rows)?;
    } else if rows.is_empty() {
        say!("{empty}");
    } else {
        views::list(rows);
    }
    Ok(ExitCode::from(exit::SUCCESS))
}

pub fn status(state: &Path, args: IdArgs) -> anyhow::Result<ExitCode> {
    let store = Store::open_existing(state)?;
    let detail = Detail::of(&store.rollout(&args.id)?)?;
    print_status(&detail, args.json, &format!("`upshift resume {}` continues", args.id))
}

/// `status`'s output, local or from a server; `no_driver` is said of a rollout nothing drives.
pub fn print_status(detail: &Detail, json: bool, no_driver: &str) -> anyhow::Result<ExitCode> {
    if json {
        print_json(detail)?;
    } else {
        views::status(detail, no_driver);
    }
    Ok(ExitCode::from(exit::SUCCESS))
}

pub fn history(state: &Path, args: IdArgs) -> anyhow::Result<ExitCode> {
    let store = Store::open_existing(state)?;
    print_history(&store.history(&args.id)?, args.json)
}

/// `history`'s output, local or from a server.
pub fn print_history(entries: &[JournalEntry], json: bool) -> anyhow::Result<ExitCode> {
    if json {
        print_json(entries)?;
    } else {
        views::history(entries);
    }
    Ok(ExitCode::from(exit::SUCCESS))
}

/// Applies a control and says what happens next.
fn apply_control(state: &Path, id: &str, event: Event, command: &str) -> anyhow::Result<(Store, State)> {
    let mut store = Store::open_existing(state)?;
    let new = rollout::control(&mut store, id, event, &actor(command))?;
    Ok((store, new))
}

pub fn approve(state: &Path, args: ControlArgs) -> anyhow::Result<ExitCode> {
    let (store, s) = apply_control(state, &args.id, Event::Approve, "approve")?;
    say!("{}", approved_line(&args.id, s.phase.name()));
    hint_driver(&store, &args.id)?;
    Ok(ExitCode::from(exit::SUCCESS))
}

/// What `approve` says of rollout `id`, now in `phase`.
pub fn approved_line(id: &str, phase: &str) -> String {
    format!("approved: rollout {id} is {phase}")
}

pub fn pause(state: &Path, args: PauseArgs) -> anyhow::Result<ExitCode> {
    let reason = args.reason.map(|r| format!("{OPERATOR_PAUSE}: {r}"));
    let (store, s) = apply_control(state, &args.id, Event::Pause { reason }, "pause")?;
    say!("{}", pause_line(&args.id, s.pause_requested, s.phase.name()));
    hint_driver(&store, &args.id)?;
    Ok(ExitCode::from(exit::SUCCESS))
}

/// What `pause` says of rollout `id`, in `phase`: paused, or paused once its step finishes.
pub fn pause_line(id: &str, requested: bool, phase: &str) -> String {
    if requested {
        format!("pause requested: rollout {id} pauses when its current {phase} step finishes")
    } else {
        format!("paused: rollout {id}")
    }
}

/// Says who carries the rollout on, or how to.
fn hint_driver(store: &Store, id: &str) -> anyhow::Result<()> {
    let rec = store.rollout(id)?;
    match Runner::driven_elsewhere(&rec) {
        Some(holder) => say!("the upshift process driving it ({holder}) carries on"),
        None => say!("no upshift process is driving it; `upshift resume {id}` continues it"),
    }
    Ok(())
}

pub fn resume(state: &Path, trust: &TrustPolicy, args: ResumeArgs) -> anyhow::Result<ExitCode> {
    let mut store = Store::open_existing(state)?;
    let rec = store.rollout(&args.id)?;
    let (s, plan) = parse_state(&rec)?;
    if s.phase.is_terminal() {
        say!("rollout {} has ended: {}", args.id, s.phase);
        return Ok(exit::for_phase(s.phase));
    }
    // Refused before the resume is recorded: nothing changes.
    if plan.dev && !args.dev {
        return Err(RunError::Dev { id: args.id }.into());
    }
    if s.phase == Phase::Paused {
        rollout::control(&mut store, &args.id, Event::Resume, &actor("resume"))?;
    }
    let carries_on = |holder: &str| format!("resumed; the upshift process driving it ({holder}) carries on");
    if let Some(holder) = Runner::driven_elsewhere(&store.rollout(&args.id)?) {
        say!("{}", carries_on(&holder.describe()));
        return Ok(ExitCode::from(exit::SUCCESS));
    }
    let runtime = Runtime::new()?;
    let opts = run_options(trust, args.no_wait, args.dev);
    let driving = format!("resuming rollout {} from the journal", args.id);
    drive_unless_driven(Runner::open(&mut store, &runtime, &args.id, opts), Some(driving), carries_on)
}

pub fn abort(state: &Path, trust: &TrustPolicy, args: AbortArgs) -> anyhow::Result<ExitCode> {
    let (mut store, s) = apply_control(state, &args.id, Event::Abort { reason: args.reason.clone() }, "abort")?;
    say!("aborted: rollout {} is {}", args.id, s.phase);
    if s.phase.is_terminal() {
        return Ok(exit::for_phase(s.phase));
    }
    let rolls_back = |holder: &str| format!("the upshift process driving it ({holder}) rolls it back");
    if let Some(holder) = Runner::driven_elsewhere(&store.rollout(&args.id)?) {
        say!("{}", rolls_back(&holder.describe()));
        return Ok(ExitCode::from(exit::SUCCESS));
    }
    let runtime = Runtime::new()?;
    // Rolling back is always allowed, a dev rollout's too (with the builds it recorded).
    let opts = RunOptions {
        actor: runner_actor(),
        wait_for_humans: false,
        trust: trust.clone(),
        dev: true,
        controller: false,
        stop: None,
        committer: None,
    };
    drive_unless_driven(Runner::open(&mut store, &runtime, &args.id, opts), None, rolls_back)
}

/// Drives the rollout `opened` holds (saying `driving` first), after a control (`resume`, `abort`)
/// was recorded. Another process may have taken the runner lease since this one looked (a `resume`
/// in another terminal just starting): that process carries the control out, so the control took
/// effect; this says so (`elsewhere` of that process, `pid N`) and succeeds. So does a process that
/// takes the lease over while this one loads the plugins (this one's lease had run out): this
/// runner is fenced off at its first step, before any plugin call.
fn drive_unless_driven(
    opened: Result<Runner<'_>, RunError>,
    driving: Option<String>,
    elsewhere: impl Fn(&str) -> String,
) -> anyhow::Result<ExitCode> {
    match opened {
        Err(RunError::Leased { holder, .. }) => {
            say!("{}", elsewhere(&holder.describe()));
            Ok(ExitCode::from(exit::SUCCESS))
        }
        other => {
            let mut runner = other?;
            if let Some(line) = driving {
                say!("{line}");
            }
            match runner.run(&mut Progress) {
                Ok(phase) => {
                    say!("rollout {}: {phase}", runner.id());
                    Ok(exit::for_phase(phase))
                }
                Err(RunError::Store(StoreError::Fenced { by, .. })) => {
                    say!("{}", elsewhere(&by));
                    Ok(ExitCode::from(exit::SUCCESS))
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}
