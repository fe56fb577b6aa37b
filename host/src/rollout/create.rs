//! Creating a rollout: plan it against its loaded plugins and record it in the store, with the
//! journal entry that says where it came from.

use std::path::Path;

use serde_json::json;

use super::now_ms;
use super::plan::{Plan, PlanError, prepare};
use super::plugins::RolloutPlugins;
use crate::engine;
use crate::spec::RolloutSpec;
use crate::store::{Admit, EntryKind, NewEntry, NewRollout, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot record the rollout: {0}")]
    Encode(#[from] serde_json::Error),
}

/// Plans `spec` with its `plugins` and records a new `pending` rollout, if `admit` (when given) accepts the
/// store's rollouts at that moment (see [`Store::create_admitted`]); returns its id and plan.
/// `notes` are extra journal lines for the audit trail (e.g. that unsigned plugins were allowed).
pub fn create(
    store: &mut Store,
    spec: &RolloutSpec,
    spec_path: &Path,
    plugins: &mut RolloutPlugins,
    actor: &str,
    notes: &[String],
    admit: Option<Admit<'_>>,
) -> Result<(String, Plan), CreateError> {
    let id = store.next_id(&spec.name)?;
    let plan = prepare(&id, spec, plugins)?;
    let start = engine::start();
    let mut entries = vec![NewEntry {
        actor: actor.to_string(),
        kind: EntryKind::Note,
        event: None,
        from: None,
        to: Some(start.phase.name().to_string()),
        stage: None,
        message: format!(
            "created from {}: {} → {}, {} stages planned by {}",
            spec_path.display(),
            spec.from,
            spec.to,
            plan.stages.len(),
            spec.strategy.display_name()
        ),
        detail: Some(json!({ "stages": plan.stages, "irreversible": plan.irreversible })),
    }];
    entries.extend(plugins.notes.iter().chain(notes).map(|n| NewEntry {
        actor: actor.to_string(),
        kind: EntryKind::Note,
        event: None,
        from: None,
        to: None,
        stage: None,
        message: n.clone(),
        detail: None,
    }));
    store.create_admitted(
        NewRollout {
            id: &id,
            name: &spec.name,
            spec_path,
            spec: &serde_json::to_string(spec)?,
            plan: &serde_json::to_string(&plan)?,
            state: &serde_json::to_string(&start)?,
            phase: start.phase.name(),
            at: now_ms(),
            leased: true,
        },
        entries,
        plugins.states(),
        admit,
    )?;
    Ok((id, plan))
}
