//! The `[policy]` section of a rollout spec, as written: which version to roll out, when it may
//! run, which gates hold it and how many rollouts of a group may run at once. Values are parsed
//! into their types while the TOML is read (so a bad time zone or constraint is reported with its
//! line and column); the decisions made from them live in `crate::policy`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// `patch` when the spec does not say: a patch release rolls out without asking.
pub const DEFAULT_PATCH_RULE: UpdateRule = UpdateRule::Auto;
/// `minor` when the spec does not say: a minor release rolls out without asking.
pub const DEFAULT_MINOR_RULE: UpdateRule = UpdateRule::Auto;
/// `major` when the spec does not say: a major release may break callers, so a human approves it.
pub const DEFAULT_MAJOR_RULE: UpdateRule = UpdateRule::Approve;
/// The time zone of a window or freeze that names none.
pub const DEFAULT_TIMEZONE: &str = "UTC";

/// `[policy]`: everything optional; an empty policy allows what the spec says, at any time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    /// `[policy.version]`: choose `to` from a release index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<VersionPolicy>,
    /// `[[policy.windows]]`: when rollouts may run; none means at any time (outside freezes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<WindowSpec>,
    /// `[[policy.freezes]]`: periods when no stage starts, windows or not.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub freezes: Vec<FreezeSpec>,
    /// What a running rollout does when its window closes (or a freeze begins).
    #[serde(default)]
    pub on_window_close: OnWindowClose,
    /// Stage names (as the strategy plans them) that wait for `upshift approve`; `"*"` for all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approve_stages: Vec<String>,
    /// `[policy.error_budget]`: hold the rollout while an error budget burns too fast.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_budget: Option<ErrorBudgetSpec>,
    /// The target group this rollout belongs to (for `max_concurrent` and `wave`); default: the
    /// spec's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Rollouts of the same group that may be active at once (not ended); unlimited if unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent: Option<u32>,
    /// This rollout's wave in its fleet (`group`): a rollout of wave N starts only once the latest
    /// rollout to the same version of every spec of waves 1 to N-1 in the group has succeeded.
    /// Unset or 1: no wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wave: Option<u32>,
}

/// `[policy.version]`: how `to` is chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionPolicy {
    /// A JSON release index: a file (relative to the spec's folder) or an `http://` URL.
    pub index: String,
    /// Versions the rollout may move to (Cargo syntax: `">=1.2, <2"`); default: any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraint: Option<semver::VersionReq>,
    #[serde(default = "default_patch")]
    pub patch: UpdateRule,
    #[serde(default = "default_minor")]
    pub minor: UpdateRule,
    #[serde(default = "default_major")]
    pub major: UpdateRule,
    /// How long a release must have been published (`"3d"`, `"12h"`, `"1w"`); a release with no
    /// publication time never satisfies it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_release_age: Option<Age>,
    /// Versions never to roll out: an exact version (`"1.4.3"`) or a requirement (`">=1.5, <1.6"`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<DenyEntry>,
    /// Consider pre-releases (`2.0.0-rc.1`); by default they are skipped.
    #[serde(default)]
    pub allow_prerelease: bool,
}

fn default_patch() -> UpdateRule {
    DEFAULT_PATCH_RULE
}
fn default_minor() -> UpdateRule {
    DEFAULT_MINOR_RULE
}
fn default_major() -> UpdateRule {
    DEFAULT_MAJOR_RULE
}

/// What an update of one type (patch, minor, major) may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpdateRule {
    /// Roll it out.
    Auto,
    /// Roll it out after `upshift approve`, before the first stage.
    Approve,
    /// Never roll it out.
    Never,
}

impl UpdateRule {
    pub fn name(self) -> &'static str {
        match self {
            UpdateRule::Auto => "auto",
            UpdateRule::Approve => "approve",
            UpdateRule::Never => "never",
        }
    }
}

/// What a running rollout does when its window closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnWindowClose {
    /// Finish the stage in progress (bake and verification), pause before the next one.
    #[default]
    FinishStage,
    /// Pause as soon as the step in progress (a call or a bake) ends.
    Pause,
}

impl OnWindowClose {
    pub fn name(self) -> &'static str {
        match self {
            OnWindowClose::FinishStage => "finish-stage",
            OnWindowClose::Pause => "pause",
        }
    }
}

/// `[[policy.windows]]`: a recurring maintenance window in a time zone. It opens at `start` local
/// time on each of `days` and closes at `end`, the same day, or the next day when `end` is not
/// after `start` (`22:00`–`04:00` spans midnight). Local times follow daylight-saving changes: a
/// time skipped by a spring-forward gap is read as the same time after the gap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    pub name: String,
    #[serde(default = "utc")]
    pub timezone: Zone,
    /// Days the window opens on; default every day.
    #[serde(default = "every_day")]
    pub days: Vec<Weekday>,
    pub start: ClockTime,
    pub end: ClockTime,
}

/// `[[policy.freezes]]`: a period (local to its time zone) when no stage starts. `start` and `end`
/// are `"2026-12-20"` or `"2026-12-20T18:00"`; a date as `end` includes that whole day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreezeSpec {
    pub name: String,
    #[serde(default = "utc")]
    pub timezone: Zone,
    pub start: LocalMoment,
    pub end: LocalMoment,
}

fn utc() -> Zone {
    Zone::from_str(DEFAULT_TIMEZONE).expect("UTC is always known")
}

fn every_day() -> Vec<Weekday> {
    Weekday::ALL.to_vec()
}

/// `[policy.error_budget]`: a verifier of the spec asked before the start and before each stage;
/// a burn rate above `max_burn_rate` holds (pauses) the rollout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorBudgetSpec {
    /// The `name` of one of the spec's `[[verifiers]]`.
    pub verifier: String,
    /// The measurement holding the burn rate; default `burn_rate`.
    #[serde(default = "default_measurement")]
    pub measurement: String,
    pub max_burn_rate: f64,
}

/// The measurement an error-budget verifier reports when the spec names none.
pub const DEFAULT_BURN_RATE_MEASUREMENT: &str = "burn_rate";

fn default_measurement() -> String {
    DEFAULT_BURN_RATE_MEASUREMENT.to_string()
}

/// An IANA time zone, checked against the system's tz database when parsed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Zone {
    pub name: String,
    pub tz: jiff::tz::TimeZone,
}

impl PartialEq for Zone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl FromStr for Zone {
    type Err = String;
    fn from_str(name: &str) -> Result<Self, String> {
        let tz = jiff::tz::TimeZone::get(name)
            .map_err(|_| format!("unknown time zone {name:?}: use an IANA name like \"Europe/Berlin\" or \"UTC\""))?;
        Ok(Zone { name: name.to_string(), tz })
    }
}

impl TryFrom<String> for Zone {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<Zone> for String {
    fn from(z: Zone) -> String {
        z.name
    }
}

/// A local time of day, `"HH:MM"`; `"24:00"` (as a window's `end`) is the next midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClockTime {
    /// Minutes after midnight, 0 to 1440.
    pub minutes: u16,
}

impl ClockTime {
    pub fn hour(self) -> i8 {
        (self.minutes / 60) as i8
    }
    pub fn minute(self) -> i8 {
        (self.minutes % 60) as i8
    }
}

impl TryFrom<String> for ClockTime {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let bad = || format!("time {s:?} must be HH:MM, from 00:00 to 24:00");
        let (h, m) = s.split_once(':').ok_or_else(bad)?;
        let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if h > 24 || m > 59 || (h == 24 && m != 0) || s.len() != 5 {
            return Err(bad());
        }
        Ok(ClockTime { minutes: h * 60 + m })
    }
}

impl From<ClockTime> for String {
    fn from(t: ClockTime) -> String {
        t.to_string()
    }
}

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.minutes / 60, self.minutes % 60)
    }
}

/// A local date (`"2026-12-20"`) or date and time (`"2026-12-20T18:00"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum LocalMoment {
    Date(jiff::civil::Date),
    DateTime(jiff::civil::DateTime),
}

impl LocalMoment {
    /// The local date-time this moment starts at (a date: its midnight).
    pub fn as_start(self) -> jiff::civil::DateTime {
        match self {
            LocalMoment::Date(d) => d.to_datetime(jiff::civil::Time::midnight()),
            LocalMoment::DateTime(dt) => dt,
        }
    }

    /// The local date-time this moment ends at (a date: the next midnight, so the day is included).
    pub fn as_end(self) -> jiff::civil::DateTime {
        match self {
            LocalMoment::Date(d) => d.tomorrow().unwrap_or(d).to_datetime(jiff::civil::Time::midnight()),
            LocalMoment::DateTime(dt) => dt,
        }
    }
}

impl TryFrom<String> for LocalMoment {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s.contains('T') {
            s.parse::<jiff::civil::DateTime>()
                .map(LocalMoment::DateTime)
                .map_err(|e| format!("{s:?} is not a local date-time like \"2026-12-20T18:00\": {e}"))
        } else {
            s.parse::<jiff::civil::Date>()
                .map(LocalMoment::Date)
                .map_err(|e| format!("{s:?} is not a date like \"2026-12-20\": {e}"))
        }
    }
}

impl From<LocalMoment> for String {
    fn from(m: LocalMoment) -> String {
        m.to_string()
    }
}

impl fmt::Display for LocalMoment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocalMoment::Date(d) => write!(f, "{d}"),
            LocalMoment::DateTime(dt) => write!(f, "{}", dt.strftime("%Y-%m-%dT%H:%M")),
        }
    }
}

/// A day of the week, written `mon` … `sun`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    pub const ALL: [Weekday; 7] =
        [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun];

    pub fn of(date: jiff::civil::Date) -> Weekday {
        Weekday::ALL[date.weekday().to_monday_zero_offset() as usize]
    }

    pub fn name(self) -> &'static str {
        ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][self as usize]
    }
}

/// A minimum age: a friendly duration (`"3d"`, `"12h"`, `"1w 2d"`, `"90m"`); a day is 24 hours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Age {
    pub text: String,
    pub duration: jiff::SignedDuration,
}

impl TryFrom<String> for Age {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        let bad = |e: &dyn fmt::Display| {
            format!("minimum_release_age {text:?} is not a duration like \"3d\" or \"12h\": {e}")
        };
        let span: jiff::Span = text.parse().map_err(|e| bad(&e))?;
        if span.get_years() != 0 || span.get_months() != 0 {
            return Err(bad(&"years and months have no fixed length; use days or weeks"));
        }
        let duration = span.to_duration(jiff::SpanRelativeTo::days_are_24_hours()).map_err(|e| bad(&e))?;
        if duration.is_negative() {
            return Err(bad(&"it is negative"));
        }
        Ok(Age { text, duration })
    }
}

impl From<Age> for String {
    fn from(a: Age) -> String {
        a.text
    }
}

/// One `deny` entry: an exact version, or a requirement when it is not a plain version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DenyEntry {
    pub text: String,
    pub matcher: DenyMatcher,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DenyMatcher {
    Exact(semver::Version),
    Req(semver::VersionReq),
}

impl DenyEntry {
    pub fn matches(&self, v: &semver::Version) -> bool {
        match &self.matcher {
            DenyMatcher::Exact(e) => e == v,
            DenyMatcher::Req(r) => r.matches(v),
        }
    }
}

impl TryFrom<String> for DenyEntry {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        // A bare "1.4.3" as a requirement would mean "^1.4.3" (every 1.x from 1.4.3): never what a
        // deny list means, so a plain version is matched exactly.
        let matcher = match lenient_version(&text) {
            Some(v) => DenyMatcher::Exact(v),
            None => DenyMatcher::Req(
                text.parse().map_err(|e| format!("deny entry {text:?} is neither a version nor a requirement: {e}"))?,
            ),
        };
        Ok(DenyEntry { text, matcher })
    }
}

impl From<DenyEntry> for String {
    fn from(d: DenyEntry) -> String {
        d.text
    }
}

/// Reads a version as semver, accepting a leading `v` and missing parts (`3` is 3.0.0, `3.1` is
/// 3.1.0), so targets that number versions simply (migration numbers) can use a version policy.
pub fn lenient_version(text: &str) -> Option<semver::Version> {
    let t = text.trim().trim_start_matches(['v', 'V']);
    if let Ok(v) = semver::Version::parse(t) {
        return Some(v);
    }
    let parts: Vec<&str> = t.split('.').collect();
    if parts.is_empty()
        || parts.len() > 2
        || parts.iter().any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let n = |i: usize| parts.get(i).map_or(Some(0), |p| p.parse::<u64>().ok());
    Some(semver::Version::new(n(0)?, n(1)?, 0))
}

impl PolicySpec {
    /// Checks what a single field cannot: names, references, windows that could never open.
    /// `verifiers` are the names of the spec's verifiers.
    pub fn validate(&self, verifiers: &[String]) -> Result<(), String> {
        let mut names = std::collections::BTreeSet::new();
        for w in &self.windows {
            if w.name.trim().is_empty() {
                return Err("policy.windows: every window needs a `name`".into());
            }
            if !names.insert(w.name.as_str()) {
                return Err(format!("policy.windows: two windows are named {:?}", w.name));
            }
            if w.days.is_empty() {
                return Err(format!("window {:?} has `days = []`: it can never open", w.name));
            }
            if w.start == w.end {
                return Err(format!(
                    "window {:?} starts and ends at {}: it can never be open; for a whole day use start = \"00:00\", end = \"24:00\"",
                    w.name, w.start
                ));
            }
            if w.start.minutes >= 24 * 60 {
                return Err(format!("window {:?}: start must be before 24:00", w.name));
            }
        }
        for f in &self.freezes {
            if f.start.as_start() >= f.end.as_end() {
                return Err(format!("freeze {:?} ends ({}) before it starts ({})", f.name, f.end, f.start));
            }
        }
        if let Some(b) = &self.error_budget {
            if !verifiers.contains(&b.verifier) {
                return Err(format!(
                    "policy.error_budget.verifier {:?} is not one of the spec's verifiers: [{}]",
                    b.verifier,
                    verifiers.join(", ")
                ));
            }
            if !(b.max_burn_rate.is_finite() && b.max_burn_rate >= 0.0) {
                return Err(format!("policy.error_budget.max_burn_rate = {} must be 0 or more", b.max_burn_rate));
            }
        }
        if self.max_concurrent == Some(0) {
            return Err("policy.max_concurrent = 0 would never let a rollout start; give at least 1".into());
        }
        if self.wave == Some(0) {
            return Err("policy.wave = 0: waves count from 1".into());
        }
        if self.wave.is_some() && self.group.is_none() {
            return Err("policy.wave needs policy.group: the fleet whose earlier waves this rollout waits for".into());
        }
        if let Some(v) = &self.version {
            if v.index.trim().is_empty() {
                return Err("policy.version.index must name a release index file or an http:// or https:// URL".into());
            }
            if [v.patch, v.minor, v.major].iter().all(|r| *r == UpdateRule::Never) {
                return Err("policy.version: patch, minor and major are all \"never\": no version can be chosen".into());
            }
        }
        Ok(())
    }

    /// Whether the policy chooses the version (and `to` must be left out).
    pub fn chooses_version(&self) -> bool {
        self.version.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<PolicySpec, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    #[test]
    fn an_unknown_time_zone_is_a_parse_error() {
        let err = parse("[[windows]]\nname = \"n\"\ntimezone = \"Europe/Berln\"\nstart = \"22:00\"\nend = \"04:00\"\n")
            .unwrap_err();
        assert!(err.contains("unknown time zone \"Europe/Berln\""), "{err}");
    }

    #[test]
    fn clock_times_are_checked() {
        assert_eq!(ClockTime::try_from("22:30".to_string()).unwrap().minutes, 22 * 60 + 30);
        assert_eq!(ClockTime::try_from("24:00".to_string()).unwrap().minutes, 1440);
        for bad in ["24:01", "7:00", "12:60", "noon", "12-00"] {
            assert!(ClockTime::try_from(bad.to_string()).is_err(), "{bad}");
        }
    }

    #[test]
    fn ages_are_friendly_durations_with_24_hour_days() {
        let a = Age::try_from("3d".to_string()).unwrap();
        assert_eq!(a.duration, jiff::SignedDuration::from_hours(72));
        assert_eq!(Age::try_from("1w 12h".to_string()).unwrap().duration, jiff::SignedDuration::from_hours(180));
        assert!(Age::try_from("1 month".to_string()).is_err());
        assert!(Age::try_from("soon".to_string()).is_err());
    }

    #[test]
    fn lenient_versions_fill_missing_parts() {
        assert_eq!(lenient_version("3"), Some(semver::Version::new(3, 0, 0)));
        assert_eq!(lenient_version("v3.1"), Some(semver::Version::new(3, 1, 0)));
        assert_eq!(lenient_version("1.2.3-rc.1").unwrap().pre.as_str(), "rc.1");
        assert_eq!(lenient_version("abc"), None);
        assert_eq!(lenient_version("1.2.3.4"), None);
    }

    #[test]
    fn a_plain_deny_entry_is_exact_and_a_requirement_is_a_range() {
        let exact = DenyEntry::try_from("1.4.3".to_string()).unwrap();
        assert!(exact.matches(&semver::Version::new(1, 4, 3)));
        assert!(!exact.matches(&semver::Version::new(1, 4, 4)));
        let range = DenyEntry::try_from(">=1.5, <1.6".to_string()).unwrap();
        assert!(range.matches(&semver::Version::new(1, 5, 9)));
        assert!(!range.matches(&semver::Version::new(1, 6, 0)));
    }

    #[test]
    fn windows_that_can_never_open_are_invalid() {
        let p = parse("[[windows]]\nname = \"n\"\ndays = []\nstart = \"22:00\"\nend = \"04:00\"\n").unwrap();
        assert!(p.validate(&[]).unwrap_err().contains("can never open"));
        let p = parse("[[windows]]\nname = \"n\"\nstart = \"22:00\"\nend = \"22:00\"\n").unwrap();
        assert!(p.validate(&[]).unwrap_err().contains("can never be open"));
    }

    #[test]
    fn the_error_budget_names_a_verifier_of_the_spec() {
        let p = parse("[error_budget]\nverifier = \"slo\"\nmax_burn_rate = 1.0\n").unwrap();
        assert!(p.validate(&["checks".into()]).unwrap_err().contains("not one of the spec's verifiers"));
        assert!(p.validate(&["slo".into()]).is_ok());
    }

    #[test]
    fn a_policy_round_trips_through_json() {
        let p = parse(
            "max_concurrent = 2\n[version]\nindex = \"r.json\"\nconstraint = \"^1\"\nminimum_release_age = \"2d\"\ndeny = [\"1.4.3\"]\n\
             [[windows]]\nname = \"n\"\ntimezone = \"Europe/Berlin\"\ndays = [\"mon\"]\nstart = \"22:00\"\nend = \"04:00\"\n\
             [[freezes]]\nname = \"f\"\nstart = \"2026-12-20\"\nend = \"2027-01-03T12:00\"\n",
        )
        .unwrap();
        let json = serde_json::to_string(&p).unwrap();
        let back: PolicySpec = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
    }
}
