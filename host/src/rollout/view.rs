//! What is shown of a rollout: the typed summary (`upshift list`, `GET /v1/rollouts`) and detail
//! (`upshift status`, `GET /v1/rollouts/{id}`), built from a store record in one place, so the
//! CLI, the server and the CLI as the server's client show the same fields with the same values.

use serde::{Deserialize, Serialize};

use super::Plan;
use super::runner::Runner;
use crate::engine::{Command, Phase, State};
use crate::spec::RolloutSpec;
use crate::store::{Lease, RolloutRecord};

/// One rollout in a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub id: String,
    pub name: String,
    /// The phase, kebab-case (`baking`, `rolled-back`...).
    pub state: String,
    /// The current stage's index (from 0) and how many stages the plan has; `None` if the record
    /// cannot be read (a corrupt record still appears in a list).
    pub stage: Option<usize>,
    pub stages: Option<usize>,
    /// The current stage's name; `None` past the last stage (finalizing and after).
    pub stage_name: Option<String>,
    /// RFC 3339, UTC, seconds.
    pub created_at: String,
    pub updated_at: String,
}

/// Where a rollout stands in its plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageAt {
    pub index: usize,
    /// `None` past the last stage.
    pub name: Option<String>,
    pub count: usize,
}

/// One rollout in full.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detail {
    pub id: String,
    pub name: String,
    pub state: String,
    pub stage: StageAt,
    pub from: String,
    pub to: String,
    /// The command sent to a plugin and not yet answered.
    pub outstanding: Option<Command>,
    /// Why the rollout waits or ended as it did.
    pub note: Option<String>,
    /// What a failed rollback left half-done, for the human who repairs it.
    pub half_done: Option<String>,
    /// The last stage sent to the target (from 0).
    pub applied_through: Option<usize>,
    /// A pause was asked for and takes effect when the current step finishes.
    pub pause_requested: bool,
    /// The live process holding the rollout's runner lease (a `run`, or a server), if it runs on
    /// this host.
    pub runner_pid: Option<u32>,
    /// The live process holding the rollout's runner lease, wherever it runs: `pid N`, or
    /// `pid N on HOST` for another host (a replica of the server).
    pub runner: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, thiserror::Error)]
#[error("rollout {id}: corrupt record ({message}); `upshift history {id}` shows its journal")]
pub struct Corrupt {
    pub id: String,
    pub message: String,
}

/// A UTC timestamp (RFC 3339, seconds) for `ms` since the epoch.
pub fn time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| ms.to_string())
}

/// A record's engine state and plan.
pub fn parse(rec: &RolloutRecord) -> Result<(State, Plan), Corrupt> {
    let corrupt = |e: serde_json::Error| Corrupt { id: rec.id.clone(), message: e.to_string() };
    Ok((serde_json::from_str(&rec.state).map_err(corrupt)?, serde_json::from_str(&rec.plan).map_err(corrupt)?))
}

/// Whether `phase` (as a record names it) is one no event leaves.
pub fn ended(phase: &str) -> bool {
    Phase::named(phase).is_some_and(Phase::is_terminal)
}

impl Summary {
    pub fn of(rec: &RolloutRecord) -> Summary {
        let parsed = parse(rec).ok();
        Summary {
            id: rec.id.clone(),
            name: rec.name.clone(),
            state: rec.phase.clone(),
            stage: parsed.as_ref().map(|(s, _)| s.stage),
            stages: parsed.as_ref().map(|(_, p)| p.stages.len()),
            stage_name: parsed.and_then(|(s, p)| p.stages.get(s.stage).map(|st| st.name.clone())),
            created_at: time(rec.created_at),
            updated_at: time(rec.updated_at),
        }
    }
}

impl Detail {
    pub fn of(rec: &RolloutRecord) -> Result<Detail, Corrupt> {
        let (s, plan) = parse(rec)?;
        let spec: RolloutSpec =
            serde_json::from_str(&rec.spec).map_err(|e| Corrupt { id: rec.id.clone(), message: e.to_string() })?;
        Ok(Detail {
            id: rec.id.clone(),
            name: rec.name.clone(),
            state: rec.phase.clone(),
            stage: StageAt {
                index: s.stage,
                name: plan.stages.get(s.stage).map(|st| st.name.clone()),
                count: plan.stages.len(),
            },
            from: spec.from,
            to: spec.to,
            outstanding: s.outstanding,
            note: s.note,
            half_done: s.half_done,
            applied_through: s.touched,
            pause_requested: s.pause_requested,
            runner_pid: Runner::driver(rec).and_then(Lease::local_pid),
            runner: Runner::driver(rec).map(Lease::describe),
            created_at: time(rec.created_at),
            updated_at: time(rec.updated_at),
        })
    }

    /// The phase, if the server named one this build knows.
    pub fn phase(&self) -> Option<Phase> {
        Phase::named(&self.state)
    }
}
