//! Version selection: given `[policy.version]`, the live version and the releases of an index,
//! which version to roll out and, for every other release, why it was rejected or skipped. Pure:
//! the index and the clock are inputs.

use jiff::Timestamp;
use serde::Serialize;

use super::index::Release;
use crate::spec::policy::{UpdateRule, VersionPolicy, lenient_version};

/// How far a release moves from the live version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpdateType {
    Patch,
    Minor,
    Major,
}

impl UpdateType {
    /// The update type of moving `from` → `to` (`to` is newer). Pre-release tags and build metadata
    /// do not change the type: 1.4.2 → 1.4.3-rc.1 is a patch.
    pub fn between(from: &semver::Version, to: &semver::Version) -> UpdateType {
        if to.major != from.major {
            UpdateType::Major
        } else if to.minor != from.minor {
            UpdateType::Minor
        } else {
            UpdateType::Patch
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            UpdateType::Patch => "patch",
            UpdateType::Minor => "minor",
            UpdateType::Major => "major",
        }
    }

    /// The rule `policy` sets for this type.
    pub fn rule(self, policy: &VersionPolicy) -> UpdateRule {
        match self {
            UpdateType::Patch => policy.patch,
            UpdateType::Minor => policy.minor,
            UpdateType::Major => policy.major,
        }
    }
}

/// What became of one release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The version to roll out.
    Chosen,
    /// A rule forbids it.
    Rejected,
    /// Allowed or not considered, but not chosen (older than the chosen one, not newer than `from`,
    /// a pre-release).
    Skipped,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Chosen => "chosen",
            Verdict::Rejected => "rejected",
            Verdict::Skipped => "skipped",
        }
    }
}

/// One release of the index with its verdict and the reason, for `plan`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update: Option<UpdateType>,
    pub verdict: Verdict,
    pub reason: String,
}

/// The chosen version and how it is gated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Chosen {
    /// As the index writes it: this string is the rollout's `to`.
    pub version: String,
    pub update: UpdateType,
    /// The update type's rule is `approve`: a human approves before the first stage.
    pub needs_approval: bool,
}

/// The outcome of selection: the chosen version (if any) and every release, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Selection {
    pub chosen: Option<Chosen>,
    pub candidates: Vec<Candidate>,
}

/// Chooses the newest release that every rule allows. `from` is the live version; `now` the time
/// release ages are measured at.
pub fn select(policy: &VersionPolicy, from: &str, releases: &[Release], now: Timestamp) -> Selection {
    let from_v = lenient_version(from);
    let mut judged: Vec<(Option<semver::Version>, Candidate)> = releases
        .iter()
        .map(|r| {
            let parsed = lenient_version(&r.version);
            let update = match (&from_v, &parsed) {
                (Some(f), Some(v)) if v > f => Some(UpdateType::between(f, v)),
                _ => None,
            };
            let (verdict, reason) = judge(policy, from, from_v.as_ref(), r, parsed.as_ref(), update, now);
            (parsed, Candidate { version: r.version.clone(), published: r.published, update, verdict, reason })
        })
        .collect();
    // Newest first; unparsable versions last, in index order.
    judged.sort_by(|(a, _), (b, _)| match (a, b) {
        (Some(a), Some(b)) => b.cmp(a),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    let mut chosen: Option<Chosen> = None;
    for (_, c) in &mut judged {
        if c.verdict != Verdict::Chosen {
            continue;
        }
        match &chosen {
            None => {
                let update = c.update.expect("an allowed release is newer than from");
                let needs_approval = update.rule(policy) == UpdateRule::Approve;
                c.reason = format!(
                    "newest allowed: {} update from {from}{}",
                    update.name(),
                    if needs_approval {
                        format!(" (needs approval: {} = \"approve\")", update.name())
                    } else {
                        String::new()
                    }
                );
                chosen = Some(Chosen { version: c.version.clone(), update, needs_approval });
            }
            Some(ch) => {
                c.verdict = Verdict::Skipped;
                c.reason = format!("allowed, but {} is newer", ch.version);
            }
        }
    }
    Selection { chosen, candidates: judged.into_iter().map(|(_, c)| c).collect() }
}

/// The verdict on one release before the newest is picked (`Chosen` here means "allowed").
fn judge(
    policy: &VersionPolicy,
    from: &str,
    from_v: Option<&semver::Version>,
    r: &Release,
    v: Option<&semver::Version>,
    update: Option<UpdateType>,
    now: Timestamp,
) -> (Verdict, String) {
    use Verdict::{Chosen as Allowed, Rejected, Skipped};
    let Some(v) = v else {
        return (Rejected, format!("{:?} is not a semantic version", r.version));
    };
    let Some(from_v) = from_v else {
        return (Rejected, format!("`from` ({from:?}) is not a semantic version, so nothing can be compared to it"));
    };
    if r.yanked {
        return (Rejected, "yanked".into());
    }
    if let Some(d) = policy.deny.iter().find(|d| d.matches(v)) {
        return (Rejected, format!("denied by deny entry {:?}", d.text));
    }
    if v <= from_v {
        let what = if v == from_v { "the live version" } else { "older than the live version" };
        return (Skipped, format!("{what} ({from})"));
    }
    if !v.pre.is_empty() && !policy.allow_prerelease {
        return (Skipped, "pre-release (allow_prerelease = false)".into());
    }
    if let Some(req) = &policy.constraint {
        // semver requirements only match a pre-release that names it; an allowed pre-release
        // satisfies the constraint when its release version does.
        let release = semver::Version::new(v.major, v.minor, v.patch);
        if !(req.matches(v) || (!v.pre.is_empty() && req.matches(&release))) {
            return (Rejected, format!("outside the constraint {req}"));
        }
    }
    let update = update.expect("newer than from");
    if update.rule(policy) == UpdateRule::Never {
        return (Rejected, format!("{} update from {from}, and {} = \"never\"", update.name(), update.name()));
    }
    if let Some(age) = &policy.minimum_release_age {
        let Some(published) = r.published else {
            return (
                Rejected,
                format!("no publication time, so it never satisfies minimum_release_age = {:?}", age.text),
            );
        };
        let eligible = published.checked_add(age.duration).unwrap_or(Timestamp::MAX);
        if eligible > now {
            return (
                Rejected,
                format!(
                    "published {published}, younger than minimum_release_age = {:?} (eligible from {eligible})",
                    age.text
                ),
            );
        }
    }
    (Allowed, String::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(extra: &str) -> VersionPolicy {
        toml::from_str(&format!("index = \"r.json\"\n{extra}")).unwrap()
    }

    fn rel(version: &str, published: Option<&str>) -> Release {
        Release { version: version.into(), published: published.map(|p| p.parse().unwrap()), yanked: false }
    }

    fn now() -> Timestamp {
        "2026-06-01T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn the_newest_allowed_release_is_chosen_and_older_ones_are_skipped() {
        let s = select(&policy(""), "1.0.0", &[rel("1.0.1", None), rel("1.1.0", None)], now());
        assert_eq!(s.chosen.as_ref().unwrap().version, "1.1.0");
        assert_eq!(s.candidates[1].verdict, Verdict::Skipped);
        assert_eq!(s.candidates[1].reason, "allowed, but 1.1.0 is newer");
    }

    #[test]
    fn a_major_update_needs_approval_by_default() {
        let s = select(&policy(""), "1.0.0", &[rel("2.0.0", None)], now());
        let c = s.chosen.unwrap();
        assert_eq!(c.update, UpdateType::Major);
        assert!(c.needs_approval);
    }

    #[test]
    fn nothing_is_chosen_when_nothing_is_newer() {
        let s = select(&policy(""), "1.0.0", &[rel("1.0.0", None), rel("0.9.0", None)], now());
        assert!(s.chosen.is_none());
        assert!(s.candidates.iter().all(|c| c.verdict == Verdict::Skipped));
    }

    #[test]
    fn an_unparsable_from_rejects_everything_with_the_reason() {
        let s = select(&policy(""), "latest", &[rel("1.0.0", None)], now());
        assert!(s.chosen.is_none());
        assert!(s.candidates[0].reason.contains("`from`"));
    }
}
