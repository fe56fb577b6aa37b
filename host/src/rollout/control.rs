//! Operators' controls (approve, pause, resume, abort) applied to a rollout through the store, from
//! any process: the runner driving the rollout sees the change at its next poll.

use super::now_ms;
use super::plan::Plan;
use crate::engine::{Event, State, TransitionError};
use crate::store::{Commit, EntryKind, NewEntry, Store, StoreError};

/// How often a control retries when the runner changed the rollout at the same moment.
const MAX_CONFLICT_RETRIES: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("rollout {id}: {source}")]
    NotAllowed { id: String, source: TransitionError },
    #[error("rollout {id} has a corrupt record: {message}")]
    Corrupt { id: String, message: String },
}

/// Applies `event` to rollout `id` on behalf of `actor`; returns the new state. A transition the
/// machine does not allow changes nothing.
pub fn control(store: &mut Store, id: &str, event: Event, actor: &str) -> Result<State, ControlError> {
    control_journaled(store, id, event, actor).map(|(state, _)| state)
}

/// [`control`], returning the journal entry it committed too (for a controller's observers).
pub fn control_journaled(
    store: &mut Store,
    id: &str,
    event: Event,
    actor: &str,
) -> Result<(State, NewEntry), ControlError> {
    let corrupt = |e: serde_json::Error| ControlError::Corrupt { id: id.to_string(), message: e.to_string() };
    for _ in 0..MAX_CONFLICT_RETRIES {
        let rec = store.rollout(id)?;
        let state: State = serde_json::from_str(&rec.state).map_err(corrupt)?;
        let plan: Plan = serde_json::from_str(&rec.plan).map_err(corrupt)?;
        let t = state
            .step(&plan.context, &event)
            .map_err(|source| ControlError::NotAllowed { id: id.to_string(), source })?;
        let entry = NewEntry {
            actor: actor.to_string(),
            kind: EntryKind::Transition,
            event: Some(event.name().to_string()),
            from: Some(state.phase.name().to_string()),
            to: Some(t.state.phase.name().to_string()),
            stage: Some(t.state.stage),
            message: match (&event, &t.state.note) {
                (Event::Abort { reason }, _) => format!("aborted by {actor}: {reason}"),
                (_, Some(note)) if t.state.phase != state.phase => format!("{} by {actor}: {note}", event.name()),
                _ => format!("{} by {actor}", event.name()),
            },
            detail: serde_json::to_value(&event).ok(),
        };
        let json = serde_json::to_string(&t.state).map_err(corrupt)?;
        let commit = Commit {
            state: Some((json, t.state.phase.name())),
            entries: vec![entry.clone()],
            plugin_states: vec![],
            at: now_ms(),
            fence: None,
            timer: None,
        };
        match store.commit(id, rec.version, commit) {
            Ok(_) => return Ok((t.state, entry)),
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::Conflict { id: id.to_string() }.into())
}
