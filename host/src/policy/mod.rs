//! Upgrade policy (`[policy]` in a spec): which version to roll out, when, and what holds it.
//! The decisions are pure functions of (policy, inputs, now) that return the decision with its
//! reasons, so `upshift plan` can explain every one; reading the release index and the clock
//! happens at the edges (the CLI and the runner call in here with what they read).
//!
//! - [`version`]: choose `to` from a release index ([`index`] reads it).
//! - [`window`]: maintenance windows and freezes in IANA time zones.
//! - [`gates`]: approvals, the error budget, concurrency per target group.
//! - this file: the explanation `plan` prints, and the check the runner makes at stage boundaries.

pub mod gates;
pub mod index;
pub mod version;
pub mod window;

use jiff::Timestamp;
use serde::Serialize;

use crate::spec::RolloutSpec;
use crate::spec::policy::{OnWindowClose, PolicySpec};
use index::{IndexError, IndexSource};
use version::Selection;
use window::TimeDecision;

/// What `[policy.version]` chose, and from where.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionChoice {
    /// The index as the spec names it.
    pub index: String,
    /// The rules in one line, e.g. `constraint >=1, <8; patch auto, minor auto, major approve`.
    pub rules: String,
    #[serde(flatten)]
    pub selection: Selection,
}

/// Reads the index of `spec`'s version policy and chooses the version; `None` without one.
pub fn choose_version(spec: &RolloutSpec, now: Timestamp) -> Result<Option<VersionChoice>, IndexError> {
    let Some(v) = &spec.policy.version else { return Ok(None) };
    let source: IndexSource = index::locate(&v.index, &spec.folder);
    let releases = index::read(&source)?.releases;
    let selection = version::select(v, &spec.from, &releases, now);
    Ok(Some(VersionChoice { index: v.index.clone(), rules: version_rules(&spec.policy), selection }))
}

fn version_rules(p: &PolicySpec) -> String {
    let Some(v) = &p.version else { return String::new() };
    let mut parts = vec![];
    if let Some(c) = &v.constraint {
        parts.push(format!("constraint {c}"));
    }
    parts.push(format!("patch {}, minor {}, major {}", v.patch.name(), v.minor.name(), v.major.name()));
    if let Some(a) = &v.minimum_release_age {
        parts.push(format!("minimum age {}", a.text));
    }
    if !v.deny.is_empty() {
        parts.push(format!("deny [{}]", v.deny.iter().map(|d| d.text.as_str()).collect::<Vec<_>>().join(", ")));
    }
    parts.push(if v.allow_prerelease { "pre-releases allowed".into() } else { "pre-releases skipped".into() });
    parts.join("; ")
}

/// Checks what can only be checked against the clock: that a rollout could start at all within the
/// lookahead (windows not entirely covered by freezes).
pub fn check(policy: &PolicySpec, now: Timestamp) -> Result<(), String> {
    window::check_reachable(policy, now)
}

/// What `upshift plan` says about the policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    pub now: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<VersionChoice>,
    pub time: TimeExplanation,
    pub gates: GateExplanation,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimeExplanation {
    #[serde(flatten)]
    pub decision: TimeDecision,
    pub windows: Vec<String>,
    pub freezes: Vec<String>,
    pub on_window_close: OnWindowClose,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateExplanation {
    /// `(stage, why)` for every stage that waits for `upshift approve`, whatever asked for it.
    pub approvals: Vec<StageApproval>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_budget: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wave: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageApproval {
    pub stage: String,
    pub reason: String,
}

/// Builds the explanation of `spec`'s policy at `now`: `version` from [`choose_version`],
/// `approvals` the planned stages that wait for approval (empty when nothing was planned).
pub fn explain(
    spec: &RolloutSpec,
    version: Option<VersionChoice>,
    approvals: Vec<StageApproval>,
    now: Timestamp,
) -> Explanation {
    let p = &spec.policy;
    let windows = p
        .windows
        .iter()
        .map(|w| {
            let days = if w.days.len() == 7 {
                "every day".to_string()
            } else {
                w.days.iter().map(|d| d.name()).collect::<Vec<_>>().join(",")
            };
            let next_day = if w.end.minutes <= w.start.minutes { " (next day)" } else { "" };
            format!("{}: {days} {}–{}{next_day} {}", w.name, w.start, w.end, w.timezone.name)
        })
        .collect();
    let freezes = p
        .freezes
        .iter()
        .map(|f| match window::freeze_interval(f) {
            Some((s, e)) => format!("{}: {} to {}", f.name, window::show(&s), window::show(&e)),
            None => format!("{}: {} to {} {}", f.name, f.start, f.end, f.timezone.name),
        })
        .collect();
    let error_budget = p.error_budget.as_ref().map(|b| {
        format!(
            "before the start and before each stage, verifier {} must report {} at most {}; above it the rollout pauses",
            b.verifier, b.measurement, b.max_burn_rate
        )
    });
    let concurrency = p.max_concurrent.map(|n| {
        format!(
            "at most {n} active rollout(s) in group {:?}; `run` does not start another",
            gates::group(p, &spec.name)
        )
    });
    let wave = p.wave.filter(|w| *w > 1).map(|w| {
        format!(
            "wave {w} of group {:?}: starts once every rollout of waves 1 to {} to the same version has succeeded",
            gates::group(p, &spec.name),
            w - 1
        )
    });
    Explanation {
        now,
        version,
        time: TimeExplanation {
            decision: window::decide(p, now),
            windows,
            freezes,
            on_window_close: p.on_window_close,
        },
        gates: GateExplanation { approvals, error_budget, concurrency, wave },
    }
}

impl Explanation {
    /// The version choice as lines of text for `plan` (none without `[policy.version]`).
    pub fn version_lines(&self) -> Vec<String> {
        let mut out = vec![];
        if let Some(v) = &self.version {
            match &v.selection.chosen {
                Some(c) => out.push(format!("version: {} chosen from {} ({})", c.version, v.index, v.rules)),
                None => out.push(format!("version: none chosen from {} ({})", v.index, v.rules)),
            }
            let width = v.selection.candidates.iter().map(|c| c.version.len()).max().unwrap_or(0);
            for c in &v.selection.candidates {
                out.push(format!("  {:<width$}  {:<8}  {}", c.version, c.verdict.name(), c.reason));
            }
        }
        out
    }

    /// When the rollout may run and what gates it, as lines of text for `plan`.
    pub fn time_and_gate_lines(&self) -> Vec<String> {
        let mut out = vec![];
        let t = &self.time;
        let now = self.now.strftime("%Y-%m-%dT%H:%M:%SZ");
        out.push(format!("when: {} at {now}: {}", if t.decision.open { "open" } else { "closed" }, t.decision.reason));
        for w in &t.windows {
            out.push(format!("  window {w}"));
        }
        for f in &t.freezes {
            out.push(format!("  freeze {f}"));
        }
        if !t.windows.is_empty() || !t.freezes.is_empty() {
            out.push(format!(
                "  when a window closes: {}",
                match t.on_window_close {
                    OnWindowClose::FinishStage =>
                        "finish the stage in progress, then pause (on_window_close = \"finish-stage\")",
                    OnWindowClose::Pause => "pause after the step in progress (on_window_close = \"pause\")",
                }
            ));
        }
        let g = &self.gates;
        if g.approvals.is_empty() && g.error_budget.is_none() && g.concurrency.is_none() && g.wave.is_none() {
            out.push("gates: none".into());
        } else {
            out.push("gates:".into());
            for a in &g.approvals {
                out.push(format!("  approval before stage {}: {}", a.stage, a.reason));
            }
            if let Some(b) = &g.error_budget {
                out.push(format!("  error budget: {b}"));
            }
            if let Some(c) = &g.concurrency {
                out.push(format!("  concurrency: {c}"));
            }
            if let Some(w) = &g.wave {
                out.push(format!("  fleet: {w}"));
            }
        }
        out
    }
}

/// Where the runner asks the policy whether to go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Boundary {
    /// Before the first stage (the rollout is pending).
    Start,
    /// The stage in progress has been verified; the next one would start after the decision.
    StageEnd { next: usize },
    /// Between steps of a stage (after a call or a bake).
    Step,
}

/// Whether the rollout must be held at `boundary` because of time (`now`): the reason, or `None`.
/// The error budget is judged separately ([`gates::judge_budget`]): it needs a verifier call.
pub fn time_hold(policy: &PolicySpec, boundary: Boundary, now: Timestamp) -> Option<String> {
    let applies = match boundary {
        Boundary::Start | Boundary::StageEnd { .. } => true,
        Boundary::Step => policy.on_window_close == OnWindowClose::Pause,
    };
    if !applies || (policy.windows.is_empty() && policy.freezes.is_empty()) {
        return None;
    }
    let d = window::decide(policy, now);
    (!d.open).then(|| {
        let next =
            d.next_open.as_ref().map(|n| format!("; `upshift resume` after {}", window::show(n))).unwrap_or_default();
        format!("policy holds the rollout: {}{next}", d.reason)
    })
}

/// Whether the error budget is asked at `boundary`.
pub fn budget_applies(policy: &PolicySpec, boundary: Boundary) -> bool {
    policy.error_budget.is_some() && matches!(boundary, Boundary::Start | Boundary::StageEnd { .. })
}
