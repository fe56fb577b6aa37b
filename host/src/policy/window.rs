//! Time rules: whether a maintenance window is open and no freeze holds at an instant, and when a
//! rollout may next start. Windows recur on local wall-clock times in their own IANA time zones,
//! so a window keeps its local hours across daylight-saving changes (and is an hour shorter or
//! longer on those nights). Pure: the instant is an input.

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use serde::Serialize;

use crate::spec::policy::{FreezeSpec, PolicySpec, Weekday, WindowSpec};

/// How far ahead the next opening is searched: a year and a bit covers every weekly window and a
/// freeze of up to a year.
pub const LOOKAHEAD_DAYS: i32 = 400;

/// One opening of a window: `[open, close)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Opening {
    pub window: String,
    pub open: Zoned,
    pub close: Zoned,
}

/// Whether a rollout may run at an instant, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimeDecision {
    /// A stage may start now.
    pub open: bool,
    /// One sentence for humans: which window is open until when, or what holds the rollout.
    pub reason: String,
    /// The window open now (none when the policy has no windows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// When it may no longer start stages (the window closes or a freeze begins), if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closes: Option<Zoned>,
    /// When closed: the next instant a rollout may start, and the window it falls in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_open: Option<Zoned>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_window: Option<String>,
}

/// The local date-time `date` at `minutes` after midnight in `tz` (1440 is the next midnight).
/// A time in a spring-forward gap becomes the same wall time after the gap; in a fall-back fold,
/// the first of the two.
fn local(tz: &TimeZone, date: Date, minutes: u16) -> Option<Zoned> {
    let (date, minutes) = if minutes >= 1440 { (date.tomorrow().ok()?, minutes - 1440) } else { (date, minutes) };
    let time = Time::new((minutes / 60) as i8, (minutes % 60) as i8, 0, 0).ok()?;
    tz.to_zoned(date.to_datetime(time)).ok()
}

/// The opening of `w` that starts on local date `date`, if the window opens that day.
pub fn opening_on(w: &WindowSpec, date: Date) -> Option<Opening> {
    if !w.days.contains(&Weekday::of(date)) {
        return None;
    }
    let tz = &w.timezone.tz;
    let open = local(tz, date, w.start.minutes)?;
    let end_date = if w.end.minutes > w.start.minutes { date } else { date.tomorrow().ok()? };
    let close = local(tz, end_date, w.end.minutes)?;
    // A window that lies entirely inside a spring-forward gap has no real time.
    (close.timestamp() > open.timestamp()).then(|| Opening { window: w.name.clone(), open, close })
}

/// Every opening of `w` that is still open at `now` or opens later, within the lookahead, in order.
fn openings_from(w: &WindowSpec, now: Timestamp) -> impl Iterator<Item = Opening> + '_ {
    // The opening of the day before may still be open (a window spanning midnight).
    let today = now.to_zoned(w.timezone.tz.clone()).date();
    (-1..=LOOKAHEAD_DAYS)
        .filter_map(move |d| today.checked_add(jiff::Span::new().days(d)).ok())
        .filter_map(move |date| opening_on(w, date))
        .filter(move |o| o.close.timestamp() > now)
}

/// The freeze interval `[start, end)` of `f`, as instants.
pub fn freeze_interval(f: &FreezeSpec) -> Option<(Zoned, Zoned)> {
    let at = |dt: DateTime| f.timezone.tz.to_zoned(dt).ok();
    Some((at(f.start.as_start())?, at(f.end.as_end())?))
}

/// The freeze in force at `t`, with the instant it ends.
fn freeze_at(policy: &PolicySpec, t: Timestamp) -> Option<(&FreezeSpec, Zoned)> {
    policy.freezes.iter().find_map(|f| {
        let (start, end) = freeze_interval(f)?;
        (start.timestamp() <= t && t < end.timestamp()).then_some((f, end))
    })
}

/// The first freeze starting in `(after, before)`, if any.
fn next_freeze_start(policy: &PolicySpec, after: Timestamp, before: Timestamp) -> Option<Zoned> {
    policy
        .freezes
        .iter()
        .filter_map(freeze_interval)
        .map(|(s, _)| s)
        .filter(|s| s.timestamp() > after && s.timestamp() < before)
        .min_by_key(|s| s.timestamp())
}

/// The first instant at or after `t` that no freeze covers (freezes may chain).
fn after_freezes(policy: &PolicySpec, mut t: Timestamp) -> Timestamp {
    // Each step moves past one freeze, so this ends within `freezes.len()` steps.
    for _ in 0..=policy.freezes.len() {
        match freeze_at(policy, t) {
            Some((_, end)) => t = end.timestamp(),
            None => break,
        }
    }
    t
}

/// The first instant at or after `now` when a stage may start, with the window it falls in (none
/// when the policy has no windows), or `None` if that is not within [`LOOKAHEAD_DAYS`].
pub fn next_start(policy: &PolicySpec, now: Timestamp) -> Option<(Timestamp, Option<Opening>)> {
    let horizon = now.checked_add(jiff::SignedDuration::from_hours(24 * i64::from(LOOKAHEAD_DAYS))).ok()?;
    if policy.windows.is_empty() {
        let t = after_freezes(policy, now);
        return (freeze_at(policy, t).is_none() && t < horizon).then_some((t, None));
    }
    let mut openings: Vec<Opening> = policy.windows.iter().flat_map(|w| openings_from(w, now)).collect();
    openings.sort_by_key(|o| o.open.timestamp());
    openings.into_iter().find_map(|o| {
        let t = after_freezes(policy, o.open.timestamp().max(now));
        (t < o.close.timestamp() && freeze_at(policy, t).is_none()).then_some((t, Some(o)))
    })
}

/// Whether a stage may start at `now` under `policy`'s windows and freezes, and when next if not.
pub fn decide(policy: &PolicySpec, now: Timestamp) -> TimeDecision {
    let utc = |t: Timestamp| t.to_zoned(TimeZone::UTC);
    if let Some((f, end)) = freeze_at(policy, now) {
        let next = next_start(policy, now);
        return TimeDecision {
            open: false,
            reason: format!("freeze {:?} holds until {}", f.name, show(&end)),
            window: None,
            closes: None,
            next_window: next.as_ref().and_then(|(_, o)| o.as_ref().map(|o| o.window.clone())),
            next_open: next.map(|(t, o)| o.map_or_else(|| utc(t), |o| t.to_zoned(o.open.time_zone().clone()))),
        };
    }
    if policy.windows.is_empty() {
        let closes = next_freeze_start(policy, now, Timestamp::MAX);
        let reason = match &closes {
            Some(c) => format!("no maintenance windows: any time until the next freeze at {}", show(c)),
            None => "no maintenance windows or freezes: any time".to_string(),
        };
        return TimeDecision { open: true, reason, window: None, closes, next_open: None, next_window: None };
    }
    let current = policy
        .windows
        .iter()
        .flat_map(|w| openings_from(w, now).take_while(move |o| o.open.timestamp() <= now))
        .filter(|o| o.open.timestamp() <= now)
        .max_by_key(|o| o.close.timestamp());
    if let Some(o) = current {
        let closes = next_freeze_start(policy, now, o.close.timestamp()).unwrap_or_else(|| o.close.clone());
        return TimeDecision {
            open: true,
            reason: format!("window {:?} is open until {}", o.window, show(&closes)),
            window: Some(o.window.clone()),
            closes: Some(closes),
            next_open: None,
            next_window: None,
        };
    }
    let next = next_start(policy, now);
    let reason = match &next {
        Some((t, Some(o))) => format!(
            "outside every maintenance window; next: window {:?} at {}",
            o.window,
            show(&t.to_zoned(o.open.time_zone().clone()))
        ),
        _ => format!("outside every maintenance window, and none opens in the next {LOOKAHEAD_DAYS} days"),
    };
    TimeDecision {
        open: false,
        reason,
        window: None,
        closes: None,
        next_window: next.as_ref().and_then(|(_, o)| o.as_ref().map(|o| o.window.clone())),
        next_open: next.map(|(t, o)| o.map_or_else(|| utc(t), |o| t.to_zoned(o.open.time_zone().clone()))),
    }
}

/// A zoned time as people read it: `2026-03-08 03:00 EDT (America/New_York)`.
pub fn show(z: &Zoned) -> String {
    let name = z.time_zone().iana_name().unwrap_or("UTC");
    format!("{} ({name})", z.strftime("%Y-%m-%d %H:%M %Z"))
}

/// Checks that the policy's windows can open at all within the lookahead from `now` (freezes may
/// cover every opening).
pub fn check_reachable(policy: &PolicySpec, now: Timestamp) -> Result<(), String> {
    if policy.windows.is_empty() && policy.freezes.is_empty() {
        return Ok(());
    }
    match next_start(policy, now) {
        Some(_) => Ok(()),
        None if policy.windows.is_empty() => {
            Err(format!("the freezes cover the next {LOOKAHEAD_DAYS} days: no rollout could start"))
        }
        None => Err(format!(
            "no maintenance window opens outside the freezes in the next {LOOKAHEAD_DAYS} days: the windows can never open"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(text: &str) -> PolicySpec {
        toml::from_str(text).unwrap()
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn no_windows_and_no_freezes_is_always_open() {
        assert!(decide(&PolicySpec::default(), at("2026-01-01T00:00:00Z")).open);
    }

    #[test]
    fn a_window_of_the_day_before_is_still_open_after_midnight() {
        let p = policy("[[windows]]\nname = \"night\"\ndays = [\"fri\"]\nstart = \"22:00\"\nend = \"04:00\"\n");
        // 2026-06-06 is a Saturday.
        let d = decide(&p, at("2026-06-06T03:59:00Z"));
        assert!(d.open, "{d:?}");
        assert_eq!(d.closes.unwrap().timestamp(), at("2026-06-06T04:00:00Z"));
        assert!(!decide(&p, at("2026-06-06T04:00:00Z")).open);
    }

    #[test]
    fn a_freeze_inside_a_window_moves_the_next_start_to_its_end() {
        let p = policy(
            "[[windows]]\nname = \"day\"\nstart = \"08:00\"\nend = \"18:00\"\n\
             [[freezes]]\nname = \"lunch\"\nstart = \"2026-06-01T12:00\"\nend = \"2026-06-01T13:00\"\n",
        );
        let d = decide(&p, at("2026-06-01T12:30:00Z"));
        assert!(!d.open);
        assert_eq!(d.next_open.unwrap().timestamp(), at("2026-06-01T13:00:00Z"));
        let before = decide(&p, at("2026-06-01T11:00:00Z"));
        assert_eq!(before.closes.unwrap().timestamp(), at("2026-06-01T12:00:00Z"), "the freeze closes it early");
    }

    #[test]
    fn windows_covered_by_freezes_for_the_lookahead_never_open() {
        let p = policy(
            "[[windows]]\nname = \"w\"\nstart = \"08:00\"\nend = \"09:00\"\n\
             [[freezes]]\nname = \"long\"\nstart = \"2026-01-01\"\nend = \"2028-01-01\"\n",
        );
        assert!(check_reachable(&p, at("2026-06-01T00:00:00Z")).unwrap_err().contains("can never open"));
    }
}
