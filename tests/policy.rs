//! Upgrade policy (`[policy]`): table-driven cases for each rule (version selection, windows and
//! freezes across daylight-saving changes in two zones and across midnight, approvals, the error
//! budget, concurrency), the HTTP release index against a server on 127.0.0.1, and the CLI end to
//! end: `validate` refuses bad policy in one line, `plan` explains, `run` holds.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{assert_one_line_error, stderr, stdout};
use jiff::Timestamp;
use upshift::policy::gates::{self, judge_budget};
use upshift::policy::index::Release;
use upshift::policy::version::{Verdict, select};
use upshift::policy::window::{decide, next_start};
use upshift::spec::RolloutSpec;
use upshift::spec::policy::{ErrorBudgetSpec, PolicySpec, VersionPolicy};

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn policy(text: &str) -> PolicySpec {
    toml::from_str(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

// ---------------------------------------------------------------------------------------------
// Version selection
// ---------------------------------------------------------------------------------------------

fn release(version: &str, published: Option<&str>, yanked: bool) -> Release {
    Release { version: version.into(), published: published.map(at), yanked }
}

/// The index of the version cases: `from` is 1.4.2 throughout; "now" is 2026-06-01T12:00Z.
fn index() -> Vec<Release> {
    vec![
        release("1.4.1", Some("2026-01-01T00:00:00Z"), false),
        release("1.4.2", Some("2026-02-01T00:00:00Z"), false),
        release("1.4.3", Some("2026-03-01T00:00:00Z"), false),
        release("1.4.4", Some("2026-05-31T00:00:00Z"), false),
        release("1.5.0", Some("2026-04-01T00:00:00Z"), false),
        release("1.5.1", Some("2026-04-02T00:00:00Z"), true),
        release("1.6.0", None, false),
        release("2.0.0-rc.1", Some("2026-04-01T00:00:00Z"), false),
        release("2.0.0", Some("2026-04-15T00:00:00Z"), false),
        release("nightly", None, false),
    ]
}

struct VersionCase {
    name: &'static str,
    rules: &'static str,
    chosen: Option<&'static str>,
    /// `(version, verdict, words its reason contains)`.
    expect: &'static [(&'static str, Verdict, &'static str)],
}

const VERSION_CASES: &[VersionCase] = &[
    VersionCase {
        name: "defaults: the newest release wins, a major one needing approval",
        rules: "",
        chosen: Some("2.0.0"),
        expect: &[
            ("2.0.0", Verdict::Chosen, "needs approval: major = \"approve\""),
            ("1.5.0", Verdict::Skipped, "2.0.0 is newer"),
            ("1.5.1", Verdict::Rejected, "yanked"),
            ("2.0.0-rc.1", Verdict::Skipped, "pre-release"),
            ("1.4.2", Verdict::Skipped, "the live version"),
            ("1.4.1", Verdict::Skipped, "older than the live version"),
            ("nightly", Verdict::Rejected, "not a semantic version"),
        ],
    },
    VersionCase {
        name: "major = never leaves the newest minor",
        rules: "major = \"never\"",
        chosen: Some("1.6.0"),
        expect: &[("2.0.0", Verdict::Rejected, "major update from 1.4.2, and major = \"never\"")],
    },
    VersionCase {
        name: "a constraint bounds the choice",
        rules: "constraint = \">=1.4, <1.5\"",
        chosen: Some("1.4.4"),
        expect: &[("1.5.0", Verdict::Rejected, "outside the constraint >=1.4, <1.5")],
    },
    VersionCase {
        name: "minimum_release_age: too young, and no timestamp never qualifies",
        rules: "major = \"never\"\nminimum_release_age = \"7d\"",
        chosen: Some("1.5.0"),
        expect: &[
            ("1.6.0", Verdict::Rejected, "no publication time"),
            ("1.4.4", Verdict::Rejected, "younger than minimum_release_age = \"7d\""),
            ("1.4.3", Verdict::Skipped, "1.5.0 is newer"),
        ],
    },
    VersionCase {
        name: "a young patch is rejected with the time it becomes eligible",
        rules: "constraint = \"~1.4\"\nminimum_release_age = \"2d\"",
        chosen: Some("1.4.3"),
        expect: &[("1.4.4", Verdict::Rejected, "eligible from 2026-06-02T00:00:00Z")],
    },
    VersionCase {
        name: "the deny list: exact versions and ranges",
        rules: "deny = [\"2.0.0\", \">=1.6, <1.7\"]",
        chosen: Some("1.5.0"),
        expect: &[
            ("2.0.0", Verdict::Rejected, "denied by deny entry \"2.0.0\""),
            ("1.6.0", Verdict::Rejected, "denied by deny entry \">=1.6, <1.7\""),
        ],
    },
    VersionCase {
        name: "pre-releases are considered when allowed, and satisfy a constraint through their release",
        rules: "allow_prerelease = true\nconstraint = \">=2, <3\"\ndeny = [\"2.0.0\"]",
        chosen: Some("2.0.0-rc.1"),
        expect: &[("2.0.0-rc.1", Verdict::Chosen, "major update")],
    },
    VersionCase {
        name: "minor = never rejects minors but keeps patches",
        rules: "minor = \"never\"\nmajor = \"never\"",
        chosen: Some("1.4.4"),
        expect: &[("1.5.0", Verdict::Rejected, "minor = \"never\"")],
    },
    VersionCase {
        name: "nothing qualifies: nothing is chosen",
        rules: "constraint = \">=3\"",
        chosen: None,
        expect: &[("2.0.0", Verdict::Rejected, "outside the constraint")],
    },
];

#[test]
fn version_selection_follows_each_rule() {
    for case in VERSION_CASES {
        let p: VersionPolicy = toml::from_str(&format!("index = \"r.json\"\n{}", case.rules)).unwrap();
        let s = select(&p, "1.4.2", &index(), at("2026-06-01T12:00:00Z"));
        assert_eq!(s.chosen.as_ref().map(|c| c.version.as_str()), case.chosen, "{}: {s:#?}", case.name);
        for (version, verdict, words) in case.expect {
            let c = s.candidates.iter().find(|c| c.version == *version).unwrap();
            assert_eq!(c.verdict, *verdict, "{}: {version}: {}", case.name, c.reason);
            assert!(c.reason.contains(words), "{}: {version}: {:?} lacks {words:?}", case.name, c.reason);
        }
        assert_eq!(s.candidates.len(), index().len(), "{}: every release is explained", case.name);
    }
}

#[test]
fn candidates_are_listed_newest_first() {
    let p: VersionPolicy = toml::from_str("index = \"r.json\"").unwrap();
    let s = select(&p, "1.4.2", &index(), at("2026-06-01T12:00:00Z"));
    let order: Vec<&str> = s.candidates.iter().map(|c| c.version.as_str()).collect();
    assert_eq!(order[..3], ["2.0.0", "2.0.0-rc.1", "1.6.0"]);
    assert_eq!(order.last(), Some(&"nightly"));
}

// ---------------------------------------------------------------------------------------------
// Windows and freezes
// ---------------------------------------------------------------------------------------------

struct TimeCase {
    name: &'static str,
    policy: &'static str,
    now: &'static str,
    open: bool,
    /// When open: when it closes; when closed: when it next opens (UTC instants).
    then: Option<&'static str>,
}

const NY_NIGHTS: &str =
    "[[windows]]\nname = \"ny\"\ntimezone = \"America/New_York\"\nstart = \"01:00\"\nend = \"05:00\"\n";
const BERLIN_EARLY: &str =
    "[[windows]]\nname = \"berlin\"\ntimezone = \"Europe/Berlin\"\nstart = \"02:30\"\nend = \"04:00\"\n";
const BERLIN_SATURDAY_NIGHT: &str = "[[windows]]\nname = \"sat-night\"\ntimezone = \"Europe/Berlin\"\ndays = [\"sat\"]\nstart = \"22:00\"\nend = \"04:00\"\n";
const UTC_FRIDAY_NIGHT: &str = "[[windows]]\nname = \"fri\"\ndays = [\"fri\"]\nstart = \"22:00\"\nend = \"04:00\"\n";

const TIME_CASES: &[TimeCase] = &[
    // America/New_York springs forward on 2026-03-08 at 02:00 EST → 03:00 EDT: 05:00 local is 09:00Z
    // that day (10:00Z the day before), so a fixed offset would get it wrong by an hour.
    TimeCase {
        name: "New York spring forward: open at 04:30 EDT, closing at 05:00 EDT",
        policy: NY_NIGHTS,
        now: "2026-03-08T08:30:00Z",
        open: true,
        then: Some("2026-03-08T09:00:00Z"),
    },
    TimeCase {
        name: "New York spring forward: closed at 05:30 EDT (would be 04:30 EST)",
        policy: NY_NIGHTS,
        now: "2026-03-08T09:30:00Z",
        open: false,
        then: Some("2026-03-09T05:00:00Z"),
    },
    TimeCase {
        name: "New York the day before: 05:00 EST is 10:00Z",
        policy: NY_NIGHTS,
        now: "2026-03-07T09:30:00Z",
        open: true,
        then: Some("2026-03-07T10:00:00Z"),
    },
    // America/New_York falls back on 2026-11-01 at 02:00 EDT → 01:00 EST: the window opens at the
    // first 01:00 (EDT, 05:00Z) and closes at 05:00 EST (10:00Z): five real hours.
    TimeCase {
        name: "New York fall back: opens at the first 01:00",
        policy: NY_NIGHTS,
        now: "2026-11-01T04:59:00Z",
        open: false,
        then: Some("2026-11-01T05:00:00Z"),
    },
    TimeCase {
        name: "New York fall back: still open at 04:30 EST",
        policy: NY_NIGHTS,
        now: "2026-11-01T09:30:00Z",
        open: true,
        then: Some("2026-11-01T10:00:00Z"),
    },
    // Europe/Berlin springs forward on 2026-03-29 at 02:00 CET → 03:00 CEST: 02:30 does not exist
    // and is read as 03:30 CEST (01:30Z); the window closes at 04:00 CEST (02:00Z).
    TimeCase {
        name: "Berlin spring forward: a start in the gap moves past it",
        policy: BERLIN_EARLY,
        now: "2026-03-29T01:15:00Z",
        open: false,
        then: Some("2026-03-29T01:30:00Z"),
    },
    TimeCase {
        name: "Berlin spring forward: open after the gap until 04:00 CEST",
        policy: BERLIN_EARLY,
        now: "2026-03-29T01:45:00Z",
        open: true,
        then: Some("2026-03-29T02:00:00Z"),
    },
    TimeCase {
        name: "Berlin the next day: 02:30 CEST is 00:30Z",
        policy: BERLIN_EARLY,
        now: "2026-03-30T00:00:00Z",
        open: false,
        then: Some("2026-03-30T00:30:00Z"),
    },
    // Europe/Berlin falls back on 2026-10-25 at 03:00 CEST → 02:00 CET: Saturday's 22:00 CEST
    // (20:00Z) to Sunday's 04:00 CET (03:00Z) spans midnight and lasts eight real hours.
    TimeCase {
        name: "Berlin fall back across midnight: open at 03:30 CET",
        policy: BERLIN_SATURDAY_NIGHT,
        now: "2026-10-25T02:30:00Z",
        open: true,
        then: Some("2026-10-25T03:00:00Z"),
    },
    TimeCase {
        name: "Berlin fall back across midnight: closed at 04:00 CET, next Saturday is CET",
        policy: BERLIN_SATURDAY_NIGHT,
        now: "2026-10-25T03:00:00Z",
        open: false,
        then: Some("2026-10-31T21:00:00Z"),
    },
    TimeCase {
        name: "midnight: Friday's window is open early on Saturday",
        policy: UTC_FRIDAY_NIGHT,
        now: "2026-06-06T03:59:59Z",
        open: true,
        then: Some("2026-06-06T04:00:00Z"),
    },
    TimeCase {
        name: "midnight: open on Friday before midnight",
        policy: UTC_FRIDAY_NIGHT,
        now: "2026-06-05T23:00:00Z",
        open: true,
        then: Some("2026-06-06T04:00:00Z"),
    },
    TimeCase {
        name: "midnight: Saturday night is not Friday night",
        policy: UTC_FRIDAY_NIGHT,
        now: "2026-06-06T23:00:00Z",
        open: false,
        then: Some("2026-06-12T22:00:00Z"),
    },
    TimeCase {
        name: "a freeze closes an open window and the next start is after it",
        policy: "[[windows]]\nname = \"day\"\nstart = \"08:00\"\nend = \"18:00\"\n\
                 [[freezes]]\nname = \"xmas\"\ntimezone = \"Europe/Berlin\"\nstart = \"2026-12-24\"\nend = \"2026-12-26\"\n",
        now: "2026-12-24T10:00:00Z",
        open: false,
        then: Some("2026-12-27T08:00:00Z"),
    },
    TimeCase {
        name: "a freeze without windows: open after it ends (a date as end includes the day)",
        policy: "[[freezes]]\nname = \"xmas\"\ntimezone = \"Europe/Berlin\"\nstart = \"2026-12-24\"\nend = \"2026-12-26\"\n",
        now: "2026-12-25T12:00:00Z",
        open: false,
        then: Some("2026-12-26T23:00:00Z"),
    },
    TimeCase {
        name: "several windows: the earliest next opening wins",
        policy: "[[windows]]\nname = \"a\"\nstart = \"20:00\"\nend = \"21:00\"\n\
                 [[windows]]\nname = \"b\"\ntimezone = \"Asia/Tokyo\"\nstart = \"03:00\"\nend = \"04:00\"\n",
        now: "2026-06-01T12:00:00Z",
        open: false,
        then: Some("2026-06-01T18:00:00Z"),
    },
];

#[test]
fn windows_and_freezes_follow_local_time_across_dst_and_midnight() {
    for case in TIME_CASES {
        let p = policy(case.policy);
        let d = decide(&p, at(case.now));
        assert_eq!(d.open, case.open, "{}: {}", case.name, d.reason);
        let then = if d.open { d.closes.as_ref() } else { d.next_open.as_ref() };
        assert_eq!(then.map(|z| z.timestamp()), case.then.map(at), "{}: {}", case.name, d.reason);
    }
}

#[test]
fn the_next_start_names_its_window_in_its_own_zone() {
    let p = policy(NY_NIGHTS);
    let (t, opening) = next_start(&p, at("2026-03-08T09:30:00Z")).unwrap();
    let opening = opening.unwrap();
    assert_eq!(opening.window, "ny");
    assert_eq!(t, at("2026-03-09T05:00:00Z"));
    assert_eq!(opening.open.time_zone().iana_name(), Some("America/New_York"));
    let d = decide(&p, at("2026-03-08T09:30:00Z"));
    assert!(d.reason.contains("window \"ny\" at 2026-03-09 01:00 EDT (America/New_York)"), "{}", d.reason);
}

// ---------------------------------------------------------------------------------------------
// Gates
// ---------------------------------------------------------------------------------------------

#[test]
fn approvals_come_from_stage_names_and_update_types() {
    let stages: Vec<String> = ["canary", "batch-1", "batch-2"].map(String::from).to_vec();
    struct Case {
        policy: &'static str,
        from: &'static str,
        to: &'static str,
        expect: [Option<&'static str>; 3],
    }
    let cases = [
        Case { policy: "", from: "1.0.0", to: "2.0.0", expect: [None, None, None] },
        Case {
            policy: "approve_stages = [\"batch-1\"]",
            from: "1",
            to: "2",
            expect: [None, Some("approve_stages"), None],
        },
        Case {
            policy: "approve_stages = [\"*\"]",
            from: "1",
            to: "2",
            expect: [Some("canary"), Some("batch-1"), Some("batch-2")],
        },
        Case {
            policy: "[version]\nindex = \"r.json\"",
            from: "1.0.0",
            to: "2.0.0",
            expect: [Some("major update 1.0.0 → 2.0.0"), None, None],
        },
        Case { policy: "[version]\nindex = \"r.json\"", from: "1.0.0", to: "1.1.0", expect: [None, None, None] },
        Case {
            policy: "approve_stages = [\"canary\"]\n[version]\nindex = \"r.json\"\nminor = \"approve\"",
            from: "1.0.0",
            to: "1.1.0",
            expect: [
                Some(
                    "minor update 1.0.0 → 1.1.0 (minor = \"approve\"); the policy requires approval before stage canary",
                ),
                None,
                None,
            ],
        },
    ];
    for c in cases {
        let got = gates::approvals(&policy(c.policy), c.from, c.to, &stages).unwrap();
        for (g, e) in got.iter().zip(c.expect) {
            match (g, e) {
                (None, None) => {}
                (Some(g), Some(e)) => assert!(g.contains(e), "{}: {g:?} lacks {e:?}", c.policy),
                _ => panic!("{}: got {got:?}, expected {:?}", c.policy, c.expect),
            }
        }
    }
}

#[test]
fn the_error_budget_holds_above_the_threshold_and_without_an_answer() {
    let b: ErrorBudgetSpec = toml::from_str("verifier = \"slo\"\nmax_burn_rate = 2.0").unwrap();
    let m = |v: f64| vec![("burn_rate".to_string(), v)];
    type Case = (Result<Vec<(String, f64)>, &'static str>, bool, &'static str);
    let cases: [Case; 6] = [
        (Ok(m(0.5)), true, "error budget ok"),
        (Ok(m(2.0)), true, "error budget ok"),
        (Ok(m(2.5)), false, "burn_rate = 2.5 is above max_burn_rate = 2"),
        (Ok(m(f64::NAN)), false, "unknown"),
        (Ok(vec![("latency".to_string(), 1.0)]), false, "reported no measurement \"burn_rate\""),
        (Err("timed out"), false, "verifier slo errored: timed out"),
    ];
    for (input, ok, words) in cases {
        let v = judge_budget(&b, input.as_ref().map(Vec::as_slice).map_err(|e| *e));
        assert_eq!(v.ok, ok, "{input:?}: {}", v.reason);
        assert!(v.reason.contains(words), "{input:?}: {:?} lacks {words:?}", v.reason);
    }
}

#[test]
fn concurrency_counts_active_rollouts_of_the_group() {
    let p = policy("group = \"shards\"\nmax_concurrent = 2");
    assert_eq!(gates::group(&p, "spec-name"), "shards");
    assert_eq!(gates::group(&PolicySpec::default(), "spec-name"), "spec-name");
    let ids = |n: usize| (1..=n).map(|i| format!("r-{i}")).collect::<Vec<_>>();
    assert!(gates::concurrency(&p, "shards", &ids(1)).is_ok());
    let err = gates::concurrency(&p, "shards", &ids(2)).unwrap_err();
    assert!(err.contains("already has 2 active rollout(s) (r-1, r-2), and max_concurrent = 2"), "{err}");
    assert!(gates::concurrency(&PolicySpec::default(), "x", &ids(50)).is_ok(), "unlimited without max_concurrent");
}

// ---------------------------------------------------------------------------------------------
// The HTTP release index
// ---------------------------------------------------------------------------------------------

/// Serves `body` with `status` to every request on 127.0.0.1 (a free port), `requests` times.
fn serve(status: &'static str, body: &'static str, requests: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let mut stream = stream.unwrap();
            let mut buf = [0u8; 4096];
            let mut seen = Vec::new();
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = stream.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                seen.extend_from_slice(&buf[..n]);
            }
            let reply = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(reply.as_bytes()).unwrap();
        }
    });
    format!("http://{addr}/releases.json")
}

fn spec_with_index(index: &str) -> RolloutSpec {
    let text = format!(
        "name = \"web\"\nfrom = \"1.0.0\"\n[target]\nplugin = \"sql-migrator\"\n[strategy]\nplugin = \"canary\"\n\
         [policy.version]\nindex = \"{index}\"\n"
    );
    RolloutSpec::parse(Path::new("/specs/web.toml"), &text).unwrap()
}

#[test]
fn an_http_index_is_read_and_chosen_from() {
    let url = serve(
        "200 OK",
        r#"{"releases":[{"version":"1.0.1","published":"2026-01-01T00:00:00Z"},{"version":"1.1.0","yanked":true}]}"#,
        1,
    );
    let choice = upshift::policy::choose_version(&spec_with_index(&url), at("2026-06-01T00:00:00Z")).unwrap().unwrap();
    assert_eq!(choice.selection.chosen.unwrap().version, "1.0.1");
    assert_eq!(choice.index, url);
}

#[test]
fn an_http_error_names_the_url_and_the_status() {
    let url = serve("404 Not Found", "{}", 1);
    let err =
        upshift::policy::choose_version(&spec_with_index(&url), at("2026-06-01T00:00:00Z")).unwrap_err().to_string();
    assert!(err.contains(&url) && err.contains("404"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// The CLI
// ---------------------------------------------------------------------------------------------

/// A folder holding a copy of examples/policy (migrations, index, spec) and a state store.
struct Example {
    dir: tempfile::TempDir,
}

impl Example {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let src = common::root().join("examples/policy");
        std::fs::create_dir(dir.path().join("migrations")).unwrap();
        for f in std::fs::read_dir(src.join("migrations")).unwrap() {
            let f = f.unwrap();
            std::fs::copy(f.path(), dir.path().join("migrations").join(f.file_name())).unwrap();
        }
        for f in ["releases.json", "rollout.toml"] {
            std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
        }
        Example { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes the example spec with `edit` applied, as `name`.
    fn spec(&self, name: &str, edit: impl FnOnce(String) -> String) -> String {
        let text = edit(std::fs::read_to_string(self.path("rollout.toml")).unwrap());
        std::fs::write(self.path(name), text).unwrap();
        name.to_string()
    }

    fn upshift(&self, args: &[&str]) -> Output {
        common::upshift_in(self.dir.path()).args(args).output().unwrap()
    }
}

#[test]
fn validate_refuses_bad_policy_in_one_line() {
    let ex = Example::new();
    let cases = [
        (
            "zone",
            "timezone = \"Europe/Berlin\"\ndays",
            "timezone = \"Europe/Berln\"\ndays",
            "unknown time zone \"Europe/Berln\"",
        ),
        (
            "constraint",
            "constraint = \"<8\"",
            "constraint = \"<<8\"",
            ":40:14: unexpected character '<' while parsing major version number",
        ),
        (
            "never",
            "days = [\"sat\", \"sun\"]",
            "days = []",
            "window \"new-york-weekend\" has `days = []`: it can never open",
        ),
        (
            "frozen",
            "start = \"2026-12-19\"\nend = \"2027-01-04\"",
            "start = \"2020-01-01\"\nend = \"2099-01-04\"",
            "the windows can never open",
        ),
        ("both", "from = \"1\"", "from = \"1\"\nto = \"3\"", "give either `to` or [policy.version]"),
        (
            "budget",
            "max_concurrent = 1",
            "max_concurrent = 1\nerror_budget = { verifier = \"slo\", max_burn_rate = 1.0 }",
            "not one of the spec's verifiers",
        ),
        ("wave-zero", "max_concurrent = 1", "max_concurrent = 1\nwave = 0", "policy.wave = 0: waves count from 1"),
        ("wave-no-group", "group = \"orders-shards\"", "wave = 2", "policy.wave needs policy.group"),
    ];
    for (name, from, to, needle) in cases {
        let spec = ex.spec(&format!("{name}.toml"), |t| {
            assert!(t.contains(from), "{name}: the example lacks {from:?}");
            t.replacen(from, to, 1)
        });
        let out = ex.upshift(&["validate", &spec]);
        assert_one_line_error(&out, needle);
    }
    // Parse-level errors carry the line and column.
    let out = ex.upshift(&["validate", "zone.toml"]);
    assert!(stderr(&out).contains("zone.toml:") && stderr(&out).contains(":12"), "{}", stderr(&out));
}

#[test]
fn plan_explains_version_window_and_gates() {
    let ex = Example::new();
    // A Tuesday at 23:30 in Berlin: the Berlin window is open.
    let out = ex.upshift(&["plan", "rollout.toml", "--at", "2026-11-24T22:30:00Z"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for line in [
        "version: 3 chosen from releases.json",
        "8           rejected  outside the constraint <8",
        "7.0.0-rc.1  skipped   pre-release (allow_prerelease = false)",
        "6           rejected  denied by deny entry \"6\"",
        "5           rejected  no publication time, so it never satisfies minimum_release_age = \"14d\"",
        "4           rejected  yanked",
        "3           chosen    newest allowed: major update from 1 (needs approval: major = \"approve\")",
        "2           skipped   allowed, but 3 is newer",
        "policy-shards: 1 → 3 on 8 units",
        "when: open at 2026-11-24T22:30:00Z: window \"berlin-nights\" is open until 2026-11-25 05:00 CET (Europe/Berlin)",
        "approval before stage canary: major update 1 → 3 (major = \"approve\")",
        "approval before stage batch-3: the policy requires approval before stage batch-3 (approve_stages)",
        "concurrency: at most 1 active rollout(s) in group \"orders-shards\"",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    // In the year-end freeze, the next start is the first window after it.
    let out = ex.upshift(&["plan", "rollout.toml", "--at", "2026-12-22T12:00:00Z"]);
    assert!(
        stdout(&out).contains("freeze \"year-end\" holds until 2027-01-05 00:00 CET (Europe/Berlin)"),
        "{}",
        stdout(&out)
    );
    let out = ex.upshift(&["plan", "rollout.toml", "--json", "--at", "2026-12-22T12:00:00Z"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["to"], "3");
    assert_eq!(json["policy"]["chosen"], serde_json::Value::Null, "the choice sits under policy.version");
    assert_eq!(json["policy"]["version"]["chosen"]["version"], "3");
    assert_eq!(json["policy"]["version"]["candidates"][0]["verdict"], "rejected");
    assert_eq!(json["policy"]["time"]["open"], false);
    assert_eq!(json["policy"]["time"]["next_window"], "berlin-nights");
    assert_eq!(json["policy"]["time"]["next_open"], "2027-01-05T00:00:00+01:00[Europe/Berlin]");
    assert_eq!(json["stages"][0]["approval"], true);
}

#[test]
fn plan_says_when_nothing_qualifies() {
    let ex = Example::new();
    let spec = ex.spec("none.toml", |t| t.replace("constraint = \"<8\"", "constraint = \">=9\""));
    let out = ex.upshift(&["plan", &spec]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("nothing to roll out"), "{}", stdout(&out));
    assert!(stdout(&out).contains("3           rejected  outside the constraint >=9"), "{}", stdout(&out));
}

#[test]
fn run_outside_every_window_does_not_start() {
    let ex = Example::new();
    // One window, on the day after tomorrow (UTC), for a minute: closed now, whatever the time.
    let day = Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date().tomorrow().unwrap().tomorrow().unwrap();
    let day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][day.weekday().to_monday_zero_offset() as usize];
    let spec = ex.spec("closed.toml", |t| {
        let head = &t[..t.find("[[policy.windows]]").unwrap()];
        format!("{head}[[policy.windows]]\nname = \"rare\"\ndays = [\"{day}\"]\nstart = \"00:00\"\nend = \"00:01\"\n")
    });
    let out = ex.upshift(&["run", &spec]);
    assert_eq!(out.status.code(), Some(3), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("rollout policy-shards not started: outside every maintenance window"),
        "{}",
        stdout(&out)
    );
    let list = ex.upshift(&["list", "--json"]);
    assert_eq!(stdout(&list).trim(), "[]", "nothing was created");
}

/// `upshift --allow-unsigned ARGS` in `dir`, with the store `dir/state.db`.
fn unsigned(dir: &Path, args: &[&std::ffi::OsStr]) -> std::process::Output {
    common::upshift_in(dir).arg("--allow-unsigned").args(args).output().unwrap()
}

/// A spec with the fixture plugins (unsigned: run with `--allow-unsigned`): a recorder target and
/// a threshold verifier as the error budget, reporting `burn` as its `value`.
fn budget_spec(dir: &Path, name: &str, burn: f64) -> PathBuf {
    let (target, verifier) =
        (common::fixtures::copy_fixture(dir, "recorder"), common::fixtures::copy_fixture(dir, "threshold"));
    let text = format!(
        r#"name = "{name}"
from = "1.0.0"
to = "1.1.0"

[target]
file = "recorder.wasm"
sha256 = "{target}"
config = {{ units = ["a", "b"] }}

[strategy]
plugin = "canary"
config = {{ steps = [{{ units = 1 }}] }}

[[verifiers]]
name = "budget"
file = "threshold.wasm"
sha256 = "{verifier}"
config = {{ value = {burn}, max = 100.0 }}

[policy]
group = "web"
max_concurrent = 1
error_budget = {{ verifier = "budget", measurement = "value", max_burn_rate = 1.0 }}
"#,
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_burning_error_budget_pauses_before_the_start_and_holds_the_group() {
    let dir = tempfile::tempdir().unwrap();
    let up = |args: &[&std::ffi::OsStr]| unsigned(dir.path(), args);
    let burning = budget_spec(dir.path(), "burning", 3.5);
    let out = up(&["run".as_ref(), "--no-wait".as_ref(), burning.as_os_str()]);
    assert_eq!(out.status.code(), Some(3), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("error budget burning: value = 3.5 is above max_burn_rate = 1"), "{}", stdout(&out));
    let status = up(&["status".as_ref(), "burning-1".as_ref(), "--json".as_ref()]);
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(json["state"], "paused");
    assert_eq!(json["applied_through"], serde_json::Value::Null, "nothing was applied");
    let note = json["note"].as_str().unwrap_or_default();
    assert!(note.contains("policy holds the rollout: error budget burning: value = 3.5"), "{json}");

    // The paused rollout is active: a second rollout of the group does not start.
    let healthy = budget_spec(dir.path(), "healthy", 0.2);
    let out = up(&["run".as_ref(), healthy.as_os_str()]);
    assert_eq!(out.status.code(), Some(3), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out)
            .contains("not started: group \"web\" already has 1 active rollout(s) (burning-1), and max_concurrent = 1"),
        "{}",
        stdout(&out)
    );

    // Once the first one has ended, the healthy one runs through, the budget asked before each stage.
    let out = up(&["abort".as_ref(), "burning-1".as_ref()]);
    assert!(out.status.code() == Some(4) || out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let out = up(&["run".as_ref(), healthy.as_os_str()]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let history = up(&["history".as_ref(), "healthy-1".as_ref()]);
    let asked = stdout(&history).matches("error budget before stage").count();
    assert_eq!(asked, 2, "before the start and before the second stage:\n{}", stdout(&history));
}

/// A fleet member: the recorder target on its own units, in `wave` of group "fleet"; with
/// `approve`, its stage waits for `upshift approve`.
fn fleet_spec(dir: &Path, name: &str, wave: u32, approve: bool) -> PathBuf {
    let digest = common::fixtures::copy_fixture(dir, "recorder");
    let approve = if approve { "approve_stages = [\"*\"]" } else { "" };
    let text = format!(
        r#"name = "{name}"
from = "1.0.0"
to = "1.1.0"

[target]
file = "recorder.wasm"
sha256 = "{digest}"
config = {{ units = ["{name}-a", "{name}-b"] }}

[strategy]
plugin = "all-at-once"

[policy]
group = "fleet"
wave = {wave}
{approve}
"#
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_fleet_is_upgraded_in_waves() {
    let dir = tempfile::tempdir().unwrap();
    let up = |args: &[&std::ffi::OsStr]| unsigned(dir.path(), args);
    let eu = fleet_spec(dir.path(), "eu", 1, false);
    let asia = fleet_spec(dir.path(), "asia", 1, true);
    let us = fleet_spec(dir.path(), "us", 2, false);
    let said = |o: &std::process::Output| format!("{}{}", stdout(o), stderr(o));

    let plan = up(&["plan".as_ref(), us.as_os_str()]);
    let expected =
        "fleet: wave 2 of group \"fleet\": starts once every rollout of waves 1 to 1 to the same version has succeeded";
    assert!(stdout(&plan).contains(expected), "{}", said(&plan));

    let out = up(&["run".as_ref(), us.as_os_str()]);
    assert_eq!(out.status.code(), Some(3), "{}", said(&out));
    assert!(stdout(&out).contains("us not started: wave 2 of group \"fleet\" waits for waves 1 to 1: none of their rollouts has moved to 1.1.0 yet"), "{}", said(&out));

    // Wave 1: eu succeeds; asia waits for an approval, so wave 2 still waits for it.
    let out = up(&["run".as_ref(), eu.as_os_str()]);
    assert!(out.status.success(), "{}", said(&out));
    let out = up(&["run".as_ref(), "--no-wait".as_ref(), asia.as_os_str()]);
    assert_eq!(out.status.code(), Some(3), "{}", said(&out));
    let out = up(&["run".as_ref(), us.as_os_str()]);
    assert_eq!(out.status.code(), Some(3), "{}", said(&out));
    assert!(stdout(&out).contains("to succeed on 1.1.0: asia-1 (wave 1) is awaiting-approval"), "{}", said(&out));

    // Once every member of wave 1 has succeeded, wave 2 goes.
    assert!(up(&["approve".as_ref(), "asia-1".as_ref()]).status.success());
    let out = up(&["run".as_ref(), asia.as_os_str()]);
    assert!(out.status.success(), "{}", said(&out));
    let out = up(&["run".as_ref(), us.as_os_str()]);
    assert!(out.status.success(), "{}", said(&out));
    assert!(stdout(&out).contains("rollout us-1: succeeded"), "{}", said(&out));
}

#[test]
fn runs_started_at_the_same_instant_respect_max_concurrent() {
    let dir = tempfile::tempdir().unwrap();
    // Four members of one group, each holding for approval (so it stays active), at most one at once.
    // Planning takes 500 ms (a slow `observe`), so every `run` looks at the store before any of
    // them has recorded its rollout: only the check inside the recording transaction can tell.
    let specs: Vec<PathBuf> = ["w", "x", "y", "z"]
        .iter()
        .map(|name| {
            let path = fleet_spec(dir.path(), name, 1, true);
            let text = std::fs::read_to_string(&path)
                .unwrap()
                .replace("wave = 1", "max_concurrent = 1")
                .replace("-b\"] }", "-b\"], observe_ms = 500 }");
            std::fs::write(&path, text).unwrap();
            path
        })
        .collect();
    let children: Vec<_> = specs
        .iter()
        .map(|spec| {
            common::upshift_in(dir.path())
                .args(["--allow-unsigned", "run", "--no-wait"])
                .arg(spec)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outs: Vec<_> = children.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
    let refused = outs.iter().filter(|o| stdout(o).contains("already has 1 active rollout(s)")).count();
    let list = unsigned(dir.path(), &["list".as_ref(), "--json".as_ref()]);
    let rollouts: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let said: Vec<String> = outs.iter().map(|o| format!("{}{}", stdout(o), stderr(o))).collect();
    assert_eq!(rollouts.as_array().map(Vec::len), Some(1), "{rollouts:#}\n{said:#?}");
    assert_eq!(refused, 3, "{said:#?}");
    assert!(outs.iter().all(|o| o.status.code() == Some(3)), "{said:#?}");
}
