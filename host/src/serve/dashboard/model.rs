//! What the dashboard shows, read from the store: the rollouts table, one rollout's page (its
//! stages as a timeline, its progress and measurements as charts, its last failed verification,
//! its plugins and grants); `audit.rs` reads its audit trail. Pure reading; the summary and detail fields come
//! from `rollout::view`, the same as the CLI's and the API's. Every text a plugin wrote goes
//! through `text::terminal` (control and bidi characters made visible, capped) before a template
//! escapes it for HTML.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;

use serde_json::Value;

use super::chart::{self, Chart, Point, Shape};
use crate::engine::{Phase, State};
use crate::rollout::Plan;
use crate::rollout::view::{self, Detail};
use crate::spec::{FileGrantSpec, PluginSpec, RolloutSpec};
use crate::store::{EntryKind, JournalEntry, RolloutRecord, Store, StoreError};
use crate::text;

/// Rollouts per page of the table.
pub const ROWS_PER_PAGE: usize = 50;
/// The most measurement charts a rollout page draws (a verifier may report up to 64 names).
pub const MAX_CHARTS: usize = 24;
/// The call entries looked at for a listed rollout's last verdict.
const VERDICT_LOOKBACK: usize = 20;
/// The longest name (measurement, stage, plugin) shown, in bytes.
const NAME: usize = text::MAX_NAME;

/// A plugin's text as the page shows it: unsafe characters visible, capped.
pub(super) fn shown(s: &str, max: usize) -> String {
    text::terminal(s, max).into_owned()
}

/// The table's filters (query parameters).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Filter {
    /// A phase name; empty means any.
    #[serde(default)]
    pub phase: String,
    /// Part of a rollout's name or id, any case; empty means any.
    #[serde(default)]
    pub name: String,
    /// The id of the last rollout of the previous page.
    #[serde(default)]
    pub after: String,
}

impl Filter {
    /// The filters as a query string (without `after`), for links.
    pub fn query(&self) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        if !self.phase.is_empty() {
            q.append_pair("phase", &self.phase);
        }
        if !self.name.is_empty() {
            q.append_pair("name", &self.name);
        }
        q.finish()
    }

    fn admits(&self, rec: &RolloutRecord) -> bool {
        let needle = self.name.trim().to_lowercase();
        (self.phase.is_empty() || rec.phase == self.phase)
            && (needle.is_empty()
                || rec.name.to_lowercase().contains(&needle)
                || rec.id.to_lowercase().contains(&needle))
    }
}

/// A listed rollout's last verdict.
#[derive(Debug, Clone)]
pub struct VerdictView {
    pub outcome: String,
    pub verifier: String,
    pub text: String,
}

/// One row of the table.
#[derive(Debug, Clone)]
pub struct RowView {
    pub id: String,
    pub name: String,
    pub from: String,
    pub to: String,
    pub phase: String,
    /// `2/4 batch-1`, or `done` past the last stage.
    pub stage: String,
    /// `25 %` of traffic or `4/8 units` on the new version once the current stage is applied.
    pub extent: String,
    pub verdict: Option<VerdictView>,
    pub age: String,
    pub created_at: String,
}

/// A page of the table.
#[derive(Debug, Clone)]
pub struct ListView {
    pub rows: Vec<RowView>,
    /// The `after` of the next page, if there is one.
    pub next: Option<String>,
    pub total: usize,
}

/// A duration as people say it: `42s`, `5m`, `3h`, `2d`.
pub fn age(ms: i64) -> String {
    let s = (ms / 1000).max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// Where a rollout stands as `n/N name` and how much of the change is out.
fn position(state: &State, plan: &Plan) -> (String, String) {
    let n = plan.stages.len();
    let stage = match plan.stages.get(state.stage) {
        Some(s) => format!("{}/{n} {}", state.stage + 1, shown(&s.name, NAME)),
        None => "done".to_string(),
    };
    if state.phase == Phase::RolledBack {
        return (stage, "rolled back".to_string());
    }
    let through = state.touched.or(state.stage.checked_sub(1));
    let extent = match (plan.traffic_split, through) {
        (true, Some(t)) => plan.weight_through(t).map(|w| format!("{w} %")).unwrap_or_default(),
        (true, None) => "0 %".to_string(),
        (false, t) => {
            let moved = t.map_or(0, |t| plan.units_through(t).len());
            format!("{moved}/{} units", plan.units.len())
        }
    };
    (stage, extent)
}

/// The last verdict among a rollout's recent calls.
fn last_verdict(store: &Store, id: &str) -> Result<Option<VerdictView>, StoreError> {
    let calls = store.recent(id, EntryKind::Call, VERDICT_LOOKBACK)?;
    Ok(calls.iter().find_map(|e| verify_call(e).map(|v| v.verdict())))
}

/// The table: rollouts matching `filter`, newest first, one page.
pub fn list(store: &Store, filter: &Filter, now: i64) -> Result<ListView, StoreError> {
    let records: Vec<RolloutRecord> = store.list()?.into_iter().filter(|r| filter.admits(r)).collect();
    let start = match filter.after.as_str() {
        "" => 0,
        after => records.iter().position(|r| r.id == after).map_or(records.len(), |i| i + 1),
    };
    let page: Vec<&RolloutRecord> = records.iter().skip(start).take(ROWS_PER_PAGE).collect();
    let next = (start + page.len() < records.len()).then(|| page.last().map(|r| r.id.clone())).flatten();
    let mut rows = Vec::with_capacity(page.len());
    for rec in page {
        let (from, to) = serde_json::from_str::<RolloutSpec>(&rec.spec)
            .map(|s| (s.from, s.to))
            .unwrap_or_else(|_| ("?".into(), "?".into()));
        let (stage, extent) = match view::parse(rec) {
            Ok((state, plan)) => position(&state, &plan),
            Err(_) => ("corrupt record".into(), String::new()),
        };
        rows.push(RowView {
            id: rec.id.clone(),
            name: rec.name.clone(),
            from: shown(&from, NAME),
            to: shown(&to, NAME),
            phase: rec.phase.clone(),
            stage,
            extent,
            verdict: last_verdict(store, &rec.id)?,
            age: age(now - rec.created_at),
            created_at: view::time(rec.created_at),
        });
    }
    Ok(ListView { rows, next, total: records.len() })
}

/// One stage on the timeline.
#[derive(Debug, Clone)]
pub struct StageView {
    pub index: usize,
    pub number: usize,
    pub name: String,
    /// `25 %` or `3 units`.
    pub moves: String,
    /// Every unit it moves, for a tooltip.
    pub units: String,
    /// `planned`, `applying`, `baking`, `verifying`, `awaiting-approval`, `paused`, `verified`,
    /// `applied`, `rolling-back`, `rolled-back`, `failed`.
    pub status: &'static str,
    pub label: &'static str,
    pub bake_seconds: u64,
    /// Milliseconds left of the bake, for the countdown.
    pub due_in_ms: Option<i64>,
}

/// A verification that failed: what the verifier said and measured.
#[derive(Debug, Clone)]
pub struct FailureView {
    pub verifier: String,
    pub stage: String,
    pub at: String,
    pub message: String,
    pub measurements: Vec<MeasurementView>,
}

#[derive(Debug, Clone)]
pub struct MeasurementView {
    pub name: String,
    pub value: String,
    pub unit: String,
}

/// A plugin of the rollout.
#[derive(Debug, Clone)]
pub struct PluginView {
    pub role: String,
    pub source: String,
    pub digest: String,
    pub grants: Vec<String>,
}

/// A control the page offers.
#[derive(Debug, Clone)]
pub struct ActionView {
    pub action: &'static str,
    pub label: &'static str,
    /// The rollout's phase allows it (the server decides again when it is sent).
    pub available: bool,
}

/// One rollout's page, without its audit trail.
#[derive(Debug, Clone)]
pub struct RolloutView {
    pub detail: Detail,
    pub phase: String,
    pub stage: String,
    pub extent: String,
    pub ended: bool,
    pub stages: Vec<StageView>,
    pub progress: Option<Chart>,
    pub charts: Vec<Chart>,
    pub charts_omitted: usize,
    pub failure: Option<FailureView>,
    pub plugins: Vec<PluginView>,
    pub actions: Vec<ActionView>,
    pub note: Option<String>,
    pub half_done: Option<String>,
}

/// A verify call's entry, read.
struct VerifyCall<'a> {
    entry: &'a JournalEntry,
    verifier: String,
    outcome: String,
    measurements: Vec<(String, f64, Option<String>)>,
}

impl VerifyCall<'_> {
    fn verdict(&self) -> VerdictView {
        VerdictView {
            outcome: self.outcome.clone(),
            verifier: self.verifier.clone(),
            text: shown(&self.entry.message, text::MAX_LINE),
        }
    }
}

fn verify_call(e: &JournalEntry) -> Option<VerifyCall<'_>> {
    let d = e.detail.as_ref()?;
    if e.kind != EntryKind::Call || d.get("call")?.as_str()? != "verify" {
        return None;
    }
    let measurements = d
        .get("measurements")
        .and_then(Value::as_array)
        .map(|ms| {
            ms.iter()
                .filter_map(|m| {
                    Some((
                        m.get("name")?.as_str()?.to_string(),
                        m.get("value")?.as_f64()?,
                        m.get("unit").and_then(Value::as_str).map(str::to_string),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    Some(VerifyCall {
        entry: e,
        verifier: shown(d.get("plugin").and_then(Value::as_str).unwrap_or("?"), NAME),
        outcome: d.get("outcome").and_then(Value::as_str).unwrap_or("error").to_string(),
        measurements,
    })
}

fn label(status: &str) -> &'static str {
    match status {
        "planned" => "planned",
        "pending" => "pending",
        "applying" => "applying",
        "baking" => "baking",
        "verifying" => "verifying",
        "awaiting-approval" => "awaiting approval",
        "paused" => "paused",
        "verified" => "verified",
        "applied" => "applied",
        "rolling-back" => "rolling back",
        "rolled-back" => "rolled back",
        "finalizing" => "finalizing",
        _ => "failed",
    }
}

fn timeline(
    store: &Store,
    rec: &RolloutRecord,
    state: &State,
    plan: &Plan,
    history: &[JournalEntry],
    now: i64,
) -> Result<Vec<StageView>, StoreError> {
    let at_stage = |event: &str| -> BTreeSet<usize> {
        history
            .iter()
            .filter(|e| e.kind == EntryKind::Transition && e.event.as_deref() == Some(event))
            .filter_map(|e| e.stage)
            .collect()
    };
    let verified = at_stage("verdict-pass");
    let applied = at_stage("apply-ok");
    let phase = state.phase;
    let undoing = matches!(phase, Phase::RollingBack | Phase::RolledBack);
    let done = matches!(phase, Phase::Finalizing | Phase::Succeeded);
    let mut out = Vec::with_capacity(plan.stages.len());
    for (i, s) in plan.stages.iter().enumerate() {
        let was_applied = applied.contains(&i) || state.touched.is_some_and(|t| i <= t);
        let status: &'static str = if undoing && (was_applied || i == state.stage) {
            phase.name()
        } else if i < state.stage || done {
            if verified.contains(&i) { "verified" } else { "applied" }
        } else if i == state.stage && phase == Phase::Failed {
            "failed"
        } else if i == state.stage && !phase.is_terminal() {
            phase.name()
        } else {
            "planned"
        };
        let due_in_ms = match (status, phase) {
            ("baking", Phase::Baking) => store.timer(&rec.id, state.issued)?.map(|due| (due - now).max(0)),
            _ => None,
        };
        let moves = match s.weight {
            Some(w) => format!("{w} %"),
            None => format!("{} unit{}", s.units.len(), if s.units.len() == 1 { "" } else { "s" }),
        };
        let units: Vec<String> = s.units.iter().map(|u| shown(u, NAME)).collect();
        out.push(StageView {
            index: i,
            number: i + 1,
            name: shown(&s.name, NAME),
            moves,
            units: text::cut(&units.join(", "), text::MAX_LINE).into_owned(),
            status,
            label: label(status),
            bake_seconds: s.bake_seconds,
            due_in_ms,
        });
    }
    Ok(out)
}

/// What the target read back over time: the traffic weight, or the units at the new version.
fn progress(rec: &RolloutRecord, plan: &Plan, to: &str, history: &[JournalEntry], end: i64) -> Chart {
    let value_of = |units: &[Value], weight: Option<f64>| -> Option<f64> {
        if plan.traffic_split {
            weight
        } else {
            Some(units.iter().filter(|u| u.get("version").and_then(Value::as_str) == Some(to)).count() as f64)
        }
    };
    let mut points = Vec::new();
    let initial = if plan.traffic_split {
        plan.observed_weight.map(f64::from)
    } else {
        Some(plan.observed.iter().filter(|u| u.version.as_deref() == Some(to)).count() as f64)
    };
    if let Some(v) = initial {
        points.push(Point { at: rec.created_at, value: v, failed: false });
    }
    for e in history.iter().filter(|e| e.kind == EntryKind::Call) {
        let Some(d) = &e.detail else { continue };
        if d.get("call").and_then(Value::as_str) != Some("observe") {
            continue;
        }
        let Some(observed) = d.get("observed") else { continue };
        let units = observed.get("units").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
        if let Some(v) = value_of(units, observed.get("weight").and_then(Value::as_f64)) {
            points.push(Point { at: e.at, value: v, failed: false });
        }
    }
    let (title, series) = match plan.traffic_split {
        true => ("Traffic on the new version (%), as read back".to_string(), "weight"),
        false => (format!("Units on the new version (of {}), as read back", plan.units.len()), "units"),
    };
    let last = points.last().map(|p| chart::number(p.value)).unwrap_or_else(|| "–".into());
    Chart { svg: chart::draw(&points, Shape::Steps, end, &title), title, series: series.into(), last }
}

/// One chart per measurement name of each verifier, in name order; the rest counted.
fn measurement_charts(history: &[JournalEntry], end: i64) -> (Vec<Chart>, usize) {
    let mut series: BTreeMap<(String, String), (Option<String>, Vec<Point>)> = BTreeMap::new();
    for call in history.iter().filter_map(verify_call) {
        let failed = call.outcome == "fail";
        for (name, value, unit) in &call.measurements {
            let s = series.entry((call.verifier.clone(), shown(name, NAME))).or_insert_with(|| (unit.clone(), vec![]));
            s.1.push(Point { at: call.entry.at, value: *value, failed });
        }
    }
    let total = series.len();
    let charts = series
        .into_iter()
        .take(MAX_CHARTS)
        .map(|((verifier, name), (unit, points))| {
            let unit = unit.map(|u| format!(" ({})", shown(&u, NAME))).unwrap_or_default();
            let title = format!("{verifier} · {name}{unit}");
            let last = points.last().map(|p| chart::number(p.value)).unwrap_or_default();
            Chart { svg: chart::draw(&points, Shape::Line, end, &title), title, series: name, last }
        })
        .collect::<Vec<_>>();
    let omitted = total - charts.len();
    (charts, omitted)
}

fn failure(history: &[JournalEntry], plan: &Plan) -> Option<FailureView> {
    let call = history.iter().rev().filter_map(verify_call).find(|c| c.outcome == "fail")?;
    Some(FailureView {
        verifier: call.verifier.clone(),
        stage: call
            .entry
            .stage
            .and_then(|s| {
                plan.stages.get(s).map(|st| format!("{}/{} {}", s + 1, plan.stages.len(), shown(&st.name, NAME)))
            })
            .unwrap_or_default(),
        at: view::time(call.entry.at),
        message: shown(&call.entry.message, text::MAX_LINE),
        measurements: call
            .measurements
            .iter()
            .map(|(n, v, u)| MeasurementView {
                name: shown(n, NAME),
                value: chart::number(*v),
                unit: u.as_deref().map(|u| shown(u, NAME)).unwrap_or_default(),
            })
            .collect(),
    })
}

/// The sha256 of each built-in plugin, computed once.
fn builtin_digest(name: &str) -> Option<&'static str> {
    static DIGESTS: OnceLock<HashMap<&'static str, String>> = OnceLock::new();
    DIGESTS
        .get_or_init(|| {
            crate::builtin::PLUGINS.iter().map(|p| (p.name, crate::runtime::Digest::of(p.bytes).to_hex())).collect()
        })
        .get(name)
        .map(String::as_str)
}

fn plugin(role: String, p: &PluginSpec) -> PluginView {
    let (source, digest) = match (&p.plugin, &p.file) {
        (Some(name), _) => {
            (format!("built-in {name}"), builtin_digest(name).unwrap_or("not in this build").to_string())
        }
        (None, Some(file)) => (format!("file {}", file.display()), p.sha256.clone().unwrap_or_default()),
        (None, None) => ("?".to_string(), String::new()),
    };
    let g = &p.grants;
    let mut grants = Vec::new();
    let list = |v: &[String]| v.join(", ");
    if !g.sql.is_empty() {
        grants.push(format!("sql: {}", list(&g.sql)));
    }
    if !g.files.is_empty() {
        let files: Vec<String> = g
            .files
            .iter()
            .map(|f| match f {
                FileGrantSpec::ReadOnly(p) => format!("{} (read-only)", p.display()),
                FileGrantSpec::Table { path, write } => {
                    format!("{} ({})", path.display(), if *write { "read-write" } else { "read-only" })
                }
            })
            .collect();
        grants.push(format!("files: {}", files.join(", ")));
    }
    if !g.env.is_empty() {
        grants.push(format!("env: {}", list(&g.env)));
    }
    if !g.network.tcp.is_empty() {
        grants.push(format!("tcp: {}", list(&g.network.tcp)));
    }
    if !g.network.http.is_empty() {
        grants.push(format!("http: {}", list(&g.network.http)));
    }
    if grants.is_empty() {
        grants.push("nothing".to_string());
    }
    PluginView { role, source, digest, grants }
}

fn plugins(spec: &RolloutSpec) -> Vec<PluginView> {
    let mut out = vec![plugin("target".into(), &spec.target), plugin("strategy".into(), &spec.strategy)];
    for v in &spec.verifiers {
        let name = v.name.clone().or_else(|| v.plugin.clone()).unwrap_or_else(|| "verifier".into());
        out.push(plugin(format!("verifier {name}"), v));
    }
    out
}

fn actions(phase: Option<Phase>) -> Vec<ActionView> {
    let ended = phase.is_none_or(Phase::is_terminal);
    let is = |p: Phase| phase == Some(p);
    vec![
        ActionView { action: "approve", label: "Approve", available: is(Phase::AwaitingApproval) },
        ActionView { action: "pause", label: "Pause", available: !ended && !is(Phase::Paused) },
        ActionView { action: "resume", label: "Resume", available: is(Phase::Paused) },
        ActionView { action: "abort", label: "Abort", available: !ended },
    ]
}

/// Rollout `id`'s page.
pub fn rollout(store: &Store, id: &str, now: i64) -> Result<RolloutView, RolloutViewError> {
    let rec = store.rollout(id)?;
    let detail = Detail::of(&rec)?;
    let (state, plan) = view::parse(&rec)?;
    let spec: RolloutSpec =
        serde_json::from_str(&rec.spec).map_err(|e| view::Corrupt { id: rec.id.clone(), message: e.to_string() })?;
    let history = store.history(id)?;
    let ended = state.phase.is_terminal();
    let end = if ended { rec.updated_at } else { now };
    let (stage, extent) = position(&state, &plan);
    let (charts, charts_omitted) = measurement_charts(&history, end);
    Ok(RolloutView {
        phase: detail.state.clone(),
        stage,
        extent,
        ended,
        stages: timeline(store, &rec, &state, &plan, &history, now)?,
        progress: Some(progress(&rec, &plan, &spec.to, &history, end)),
        charts,
        charts_omitted,
        failure: failure(&history, &plan),
        plugins: plugins(&spec),
        actions: actions(detail.phase()),
        note: detail.note.as_deref().map(|n| shown(n, text::MAX_LINE)),
        half_done: detail.half_done.as_deref().map(|n| shown(n, text::MAX_LINE)),
        detail,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum RolloutViewError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Corrupt(#[from] view::Corrupt),
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
