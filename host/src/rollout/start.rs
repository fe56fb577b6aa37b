//! Starting a rollout: the one decision "may this spec start now, and with which version", shared
//! by `upshift run` and `upshift serve` so the two can never disagree. [`load`] loads a parsed
//! spec's plugins and runs the preflight; [`start`] continues the rollout of the same name that has
//! not ended, or lets the version policy choose, checks the window and the group's gates, plans and
//! records a new rollout. Errors are typed and know whose fault they are ([`StartError::fault`]).

use std::path::Path;

use super::create::{CreateError, create};
use super::plan::{Plan, PlanError};
use super::plugins::{PluginsError, RolloutPlugins};
use super::preflight::{self, Problems};
use crate::engine::Phase;
use crate::policy::gates::FleetRollout;
use crate::policy::index::IndexError;
use crate::policy::{self, VersionChoice};
use crate::runtime::{CallError, ErrorKind, LoadError, Runtime};
use crate::spec::{RolloutSpec, SpecError};
use crate::store::{RolloutRecord, Store, StoreError};
use crate::trust::TrustPolicy;

/// Whose fault an error is: the caller's input (CLI exit 2, HTTP 400/422), a conflict with the
/// store's state (HTTP 409), or neither (I/O, the store, a plugin crash: CLI exit 1, HTTP 500).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Input,
    Conflict,
    Internal,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Plugins(#[from] PluginsError),
    /// Refused by preflight: every problem is in it, one line each.
    #[error(transparent)]
    Preflight(#[from] Problems),
    /// The release index could not be fetched over HTTP (a malformed or missing index is a
    /// [`SpecError`]: the spec's to fix).
    #[error(transparent)]
    Index(IndexError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Create(#[from] CreateError),
}

impl StartError {
    pub fn fault(&self) -> Fault {
        let store = |s: &StoreError| match s {
            StoreError::UnknownRollout { .. } | StoreError::Missing { .. } => Fault::Input,
            StoreError::Conflict { .. } | StoreError::Refused { .. } => Fault::Conflict,
            _ => Fault::Internal,
        };
        match self {
            StartError::Spec(_) | StartError::Load(_) | StartError::Plugins(_) | StartError::Preflight(_) => {
                Fault::Input
            }
            StartError::Index(_) => Fault::Internal,
            StartError::Store(s) | StartError::Create(CreateError::Store(s)) => store(s),
            StartError::Create(CreateError::Plan(p)) if plan_refused(p) => Fault::Input,
            StartError::Create(_) => Fault::Internal,
        }
    }

    /// A short machine-readable name of the error, for the API's `code`.
    pub fn code(&self) -> &'static str {
        match self {
            StartError::Spec(_) => "invalid_spec",
            StartError::Load(_) | StartError::Plugins(_) => "plugin_refused",
            StartError::Preflight(_) => "preflight",
            StartError::Create(CreateError::Plan(_)) => "plan_refused",
            _ if self.fault() == Fault::Conflict => "conflict",
            _ if self.fault() == Fault::Input => "invalid_input",
            _ => "internal",
        }
    }

    /// The preflight's problems, when that is what refused the spec.
    pub fn problems(&self) -> Option<&Problems> {
        match self {
            StartError::Preflight(p) => Some(p),
            _ => None,
        }
    }
}

/// A plan the host refused before anything changed (the strategy's stages or the target's
/// observation out of bounds), or a plugin that refused its config while planning: invalid input,
/// like a bad spec.
pub fn plan_refused(p: &PlanError) -> bool {
    match p {
        PlanError::Invalid { .. } | PlanError::Target { .. } | PlanError::Unstaged { .. } => true,
        PlanError::Call(c) => invalid_config(c),
    }
}

/// A plugin answered `invalid-config`: the spec's `config` for it is wrong.
pub fn invalid_config(c: &CallError) -> bool {
    matches!(c, CallError::Plugin { kind: ErrorKind::InvalidConfig, .. })
}

/// A spec with its plugins loaded and checked by the preflight; nothing is in the store yet.
pub struct Loaded {
    pub spec: RolloutSpec,
    pub plugins: RolloutPlugins,
    /// The audit notes of dev mode (empty without it).
    pub dev_notes: Vec<String>,
}

/// Loads the plugins of `spec` (read from `spec_path`) through `runtime` and runs the preflight:
/// the one path of `validate`, `plan`, `run` and the API. In dev mode (`run --dev`, see
/// [`super::dev`]) plugin files are pinned to their bytes as they are and allowed unsigned. Each
/// warning (dev notes, the preflight's) is passed to `warn` as it is found.
pub fn load(
    runtime: &Runtime,
    spec_path: &Path,
    mut spec: RolloutSpec,
    trust: &TrustPolicy,
    dev: bool,
    warn: &mut dyn FnMut(&str),
) -> Result<Loaded, StartError> {
    let mut trust = trust.clone();
    let mut dev_notes = Vec::new();
    if dev {
        dev_notes = super::dev::repin(&mut spec)?;
        dev_notes.iter().for_each(|n| warn(n));
        trust.allow_unsigned = true;
        trust.dev = true;
    }
    let mut plugins = RolloutPlugins::load(runtime, &spec, &trust, |_| Default::default())?;
    plugins.dev = dev;
    for warning in preflight::check(&spec, spec_path, &plugins)? {
        warn(&warning.to_string());
    }
    Ok(Loaded { spec, plugins, dev_notes })
}

/// Checks the spec's policy against the clock and, with `[policy.version]`, reads its release index
/// and sets `to` to the version it chooses (left empty when none qualifies).
pub fn choose_version(
    spec_path: &Path,
    spec: &mut RolloutSpec,
    now: jiff::Timestamp,
) -> Result<Option<VersionChoice>, StartError> {
    let invalid = |message: String| SpecError::Invalid { path: spec_path.to_path_buf(), message };
    policy::check(&spec.policy, now).map_err(invalid)?;
    let choice = match policy::choose_version(spec, now) {
        Ok(c) => c,
        // A missing or malformed index is the spec's to fix; an HTTP failure is not.
        Err(e @ IndexError::Http { .. }) => return Err(StartError::Index(e)),
        Err(e) => return Err(invalid(e.to_string()).into()),
    };
    if let Some(chosen) = choice.as_ref().and_then(|c| c.selection.chosen.as_ref()) {
        spec.to = chosen.version.clone();
    }
    Ok(choice)
}

/// Why a version policy chose nothing, in one line.
pub fn nothing_chosen(spec: &RolloutSpec) -> String {
    format!("nothing to roll out: no release in the index is newer than {} and allowed by [policy.version]", spec.from)
}

/// What [`start`] decided.
pub enum Started {
    /// A rollout of the same name has not ended: it is the one to drive.
    Continuing {
        id: String,
        phase: String,
        /// It was started by `run --dev`.
        dev: bool,
    },
    /// The version policy chose no version: there is nothing to roll out (the line says why).
    NothingChosen { line: String },
    /// The window, a freeze or a gate holds the spec back now; nothing was recorded.
    Held { name: String, reason: String },
    /// A new `pending` rollout was recorded, planned with these plugins.
    Created { id: String, spec: Box<RolloutSpec>, plan: Plan, plugins: Box<RolloutPlugins> },
}

impl Started {
    /// The one line `run` prints for a held spec.
    pub fn held_line(name: &str, reason: &str) -> String {
        format!("rollout {name} not started: {reason}")
    }
}

/// Decides whether the loaded spec (read from `spec_path`) may start now and, if so, records it as a
/// new rollout, journaled as created by `actor`; a rollout of the same name that has not ended is
/// continued instead. The admission gates are checked again inside the write that records it, so
/// two callers at once cannot both pass.
pub fn start(
    store: &mut Store,
    loaded: Loaded,
    spec_path: &Path,
    actor: &str,
    now: jiff::Timestamp,
) -> Result<Started, StartError> {
    let Loaded { mut spec, mut plugins, dev_notes } = loaded;
    let terminal: Vec<&str> = Phase::ALL.iter().filter(|p| p.is_terminal()).map(|p| p.name()).collect();
    if let Some(id) = store.active_by_name(&spec.name, &terminal)? {
        let rec = store.rollout(&id)?;
        let dev = serde_json::from_str::<Plan>(&rec.plan).is_ok_and(|p| p.dev);
        return Ok(Started::Continuing { id, phase: rec.phase, dev });
    }
    if choose_version(spec_path, &mut spec, now)?.is_some() && spec.to.is_empty() {
        return Ok(Started::NothingChosen { line: nothing_chosen(&spec) });
    }
    let when = policy::window::decide(&spec.policy, now);
    if !when.open {
        return Ok(Started::Held { name: spec.name, reason: when.reason });
    }
    if let Err(reason) = admission(&spec, &store.list()?) {
        return Ok(Started::Held { name: spec.name, reason });
    }
    let spec_path = std::path::absolute(spec_path).unwrap_or(spec_path.to_path_buf());
    let admit = |rollouts: &[RolloutRecord]| admission(&spec, rollouts);
    match create(store, &spec, &spec_path, &mut plugins, actor, &dev_notes, Some(&admit)) {
        Err(CreateError::Store(StoreError::Refused { reason })) => Ok(Started::Held { name: spec.name, reason }),
        Err(e) => Err(e.into()),
        Ok((id, plan)) => Ok(Started::Created { id, spec: Box::new(spec), plan, plugins: Box::new(plugins) }),
    }
}

/// Whether a new rollout of `spec` may start, given every rollout in the store: the group's
/// `max_concurrent` and the spec's wave.
fn admission(spec: &RolloutSpec, rollouts: &[RolloutRecord]) -> Result<(), String> {
    let group = policy::gates::group(&spec.policy, &spec.name);
    let fleet: Vec<FleetRollout> = rollouts
        .iter()
        .filter_map(|r| {
            let s = serde_json::from_str::<RolloutSpec>(&r.spec).ok()?;
            (policy::gates::group(&s.policy, &s.name) == group).then(|| FleetRollout {
                id: r.id.clone(),
                name: r.name.clone(),
                wave: s.policy.wave.unwrap_or(1),
                to: s.to,
                phase: r.phase.clone(),
            })
        })
        .collect();
    let active: Vec<String> = fleet.iter().filter(|r| !super::view::ended(&r.phase)).map(|r| r.id.clone()).collect();
    policy::gates::concurrency(&spec.policy, group, &active)?;
    policy::gates::wave(group, spec.policy.wave.unwrap_or(1), &spec.to, &fleet)
}

#[cfg(test)]
#[path = "start_tests.rs"]
mod tests;
