//! What the API answers about rollouts: the same fields as `upshift list --json` and
//! `status --json`, read from the store's records.

use serde_json::{Value, json};

use crate::engine::State;
use crate::rollout::Plan;
use crate::spec::RolloutSpec;
use crate::store::RolloutRecord;

/// A UTC timestamp (RFC 3339, seconds) for `ms` since the epoch.
pub fn time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| ms.to_string())
}

/// A record's engine state and plan; `None` if the record is corrupt.
fn parsed(rec: &RolloutRecord) -> Option<(State, Plan)> {
    Some((serde_json::from_str(&rec.state).ok()?, serde_json::from_str(&rec.plan).ok()?))
}

/// One rollout in a list (`upshift list --json`'s fields).
pub fn summary(rec: &RolloutRecord) -> Value {
    let (stage, stages) = parsed(rec).map_or((None, None), |(s, p)| (Some(s.stage), Some(p.stages.len())));
    json!({
        "id": rec.id, "name": rec.name, "state": rec.phase,
        "stage": stage, "stages": stages,
        "created_at": time(rec.created_at), "updated_at": time(rec.updated_at),
    })
}

/// One rollout in full (`upshift status --json`'s fields; `runner_pid` is the process holding its
/// runner lease, this server's own included).
pub fn detail(rec: &RolloutRecord) -> Value {
    let spec: Option<RolloutSpec> = serde_json::from_str(&rec.spec).ok();
    let (from, to) = spec.map_or((None, None), |s| (Some(s.from), Some(s.to)));
    let Some((s, plan)) = parsed(rec) else {
        return json!({ "id": rec.id, "name": rec.name, "state": rec.phase, "from": from, "to": to });
    };
    json!({
        "id": rec.id, "name": rec.name, "state": rec.phase,
        "stage": { "index": s.stage, "name": plan.stages.get(s.stage).map(|st| st.name.clone()), "count": plan.stages.len() },
        "from": from, "to": to,
        "outstanding": s.outstanding, "note": s.note, "half_done": s.half_done,
        "applied_through": s.touched, "runner_pid": rec.runner_pid,
        "created_at": time(rec.created_at), "updated_at": time(rec.updated_at),
    })
}
