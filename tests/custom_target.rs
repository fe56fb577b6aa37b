//! The target tutorial, `examples/custom-target`, built as its README says and run in real rollouts
//! through the real `upshift` binary with the README's own spec: the fleet's files move to the new
//! version; a failed verification (the verifier tutorial's plugin) rolls the canary back; a unit
//! changed by hand fails its stage and is left as it was while the rest is rolled back. And the
//! tutorials' grants: the verifier's deny list read from a granted file or variable; a spec whose
//! grants and a plugin's declared capabilities differ (the verifier without `grants.files` and
//! `grants.env`, the target without `grants.files`) refused by `validate`, `plan` and `run` with
//! exit code 2, the spec's line and the fix, before any state or unit file is touched; and the
//! verifier's error (never a pass) when its granted folder lacks the file. And the rollback
//! contract against someone else's change: a unit another rollout moved after this one's apply is
//! refused, and the rollout ends failed.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use common::{fixtures, stderr, stdout};

const UNITS: [&str; 4] = ["web-1", "web-2", "web-3", "web-4"];

/// The tutorial's README.
fn readme() -> String {
    std::fs::read_to_string(common::root().join("examples/custom-target/README.md")).expect("read the README")
}

/// The README's fenced ```toml blocks that contain `needle`: exactly one is expected.
fn toml_block(readme: &str, needle: &str) -> String {
    let blocks: Vec<&str> = readme
        .split("```toml\n")
        .skip(1)
        .filter_map(|rest| rest.split("```").next())
        .filter(|block| block.contains(needle))
        .collect();
    assert_eq!(blocks.len(), 1, "the README has {} toml blocks with {needle:?}", blocks.len());
    blocks[0].to_string()
}

/// Sets the value of the one `sha256 = "..."` line of `block`.
fn pin(block: &str, digest: &str) -> String {
    let lines: Vec<String> = block
        .lines()
        .map(|l| if l.starts_with("sha256 = ") { format!("sha256 = \"{digest}\"") } else { l.to_string() })
        .collect();
    assert_eq!(lines.iter().filter(|l| l.starts_with("sha256 = ")).count(), 1, "{block}");
    lines.join("\n") + "\n"
}

/// The two tutorials' components, built with `cargo build --release --target wasm32-wasip2` as
/// their READMEs say (into a target folder shared by the test runs).
fn components() -> &'static (PathBuf, PathBuf) {
    static BUILT: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let target = fixtures::build_components(Path::new("examples/custom-target/Cargo.toml"), "example", "release");
        let verifier =
            fixtures::build_components(Path::new("examples/custom-verifier/Cargo.toml"), "example", "release");
        (target.join("version_files.wasm"), verifier.join("deny_versions.wasm"))
    })
}

/// A copy of the tutorial's folder layout: `custom-target/` (the spec's folder, with the built
/// component where cargo puts it, `fleet/` and the empty `policy/` the README's verifier block
/// grants) beside `custom-verifier/`, both components signed by a key this sandbox trusts.
struct Tutorial {
    dir: tempfile::TempDir,
}

impl Tutorial {
    fn new() -> Self {
        let (target, verifier) = components();
        let dir = tempfile::tempdir().unwrap();
        let t = Tutorial { dir };
        let release = "target/wasm32-wasip2/release";
        for (component, crate_dir) in [(target, "custom-target"), (verifier, "custom-verifier")] {
            let to = t.dir.path().join(crate_dir).join(release);
            std::fs::create_dir_all(&to).unwrap();
            std::fs::copy(component, to.join(component.file_name().unwrap())).unwrap();
        }
        assert!(t.upshift(&["plugin", "keygen", "--out", "dev.key"]).status.success());
        let public = std::fs::read_to_string(t.path("dev.key.pub")).unwrap();
        std::fs::write(t.path("trusted_keys"), format!("{} me\n", public.trim())).unwrap();
        for wasm in [
            "target/wasm32-wasip2/release/version_files.wasm",
            "../custom-verifier/target/wasm32-wasip2/release/deny_versions.wasm",
        ] {
            let out = t.upshift(&["plugin", "sign", wasm, "--key", "dev.key"]);
            assert!(out.status.success(), "{}", stderr(&out));
        }
        std::fs::create_dir(t.path("fleet")).unwrap();
        for unit in UNITS {
            std::fs::write(t.path(&format!("fleet/{unit}.version")), "1\n").unwrap();
        }
        std::fs::create_dir(t.path("policy")).unwrap();
        t
    }

    /// A path in the spec's folder.
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join("custom-target").join(name)
    }

    fn digest(&self, file: &str) -> String {
        upshift::runtime::Digest::of(&std::fs::read(self.path(file)).unwrap()).to_hex()
    }

    /// `upshift` with this layout's state store and trusted keys, run in the spec's folder.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = common::upshift();
        cmd.arg("--state")
            .arg(self.path("state.db"))
            .arg("--trusted-keys")
            .arg(self.path("trusted_keys"))
            .args(args)
            .current_dir(self.path(""));
        cmd
    }

    fn upshift(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Writes the README's `rollout.toml`, pinned to the built component, plus `extra`.
    fn spec(&self, extra: &str) -> &'static str {
        let readme = readme();
        let target =
            pin(&toml_block(&readme, "[target]"), &self.digest("target/wasm32-wasip2/release/version_files.wasm"));
        std::fs::write(self.path("rollout.toml"), target + extra).unwrap();
        "rollout.toml"
    }

    /// The README's `[[verifiers]]` block, pinned to the built verifier.
    fn deny_list_verifier(&self) -> String {
        let digest = self.digest("../custom-verifier/target/wasm32-wasip2/release/deny_versions.wasm");
        "\n".to_string() + &pin(&toml_block(&readme(), "[[verifiers]]"), &digest)
    }

    /// The verifier tutorial's plugin with `grants_and_config` (its step 6 lines). The plugin
    /// declares `files` and `env = ["DENIED_VERSIONS"]`: a spec that does not grant both is refused.
    fn deny_list_verifier_with(&self, grants_and_config: &str) -> String {
        let digest = self.digest("../custom-verifier/target/wasm32-wasip2/release/deny_versions.wasm");
        format!(
            "\n[[verifiers]]\nname = \"deny-list\"\n\
             file = \"../custom-verifier/target/wasm32-wasip2/release/deny_versions.wasm\"\n\
             sha256 = \"{digest}\"\n{grants_and_config}\n"
        )
    }

    fn unit(&self, unit: &str) -> String {
        std::fs::read_to_string(self.path(&format!("fleet/{unit}.version"))).unwrap()
    }

    /// Each unit's version: its file's first line.
    fn versions(&self) -> Vec<String> {
        UNITS.iter().map(|u| self.unit(u).lines().next().unwrap_or_default().to_string()).collect()
    }

    fn state(&self, id: &str) -> serde_json::Value {
        let out = self.upshift(&["status", id, "--json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["state"].clone()
    }

    fn history(&self, id: &str) -> String {
        stdout(&self.upshift(&["history", id]))
    }

    /// The 1-based line of `spec` (a file in the spec's folder) that is exactly `line`.
    fn line_of(&self, spec: &str, line: &str) -> usize {
        let text = std::fs::read_to_string(self.path(spec)).unwrap();
        let at: Vec<usize> = text.lines().enumerate().filter(|(_, l)| *l == line).map(|(i, _)| i + 1).collect();
        assert_eq!(at.len(), 1, "{line:?} in {text}");
        at[0]
    }

    /// `validate`, `plan` and `run` of `spec` all refuse it with exit code 2 and exactly `expected`
    /// on stderr (and nothing on stdout), creating no state store and touching no unit file.
    fn assert_refused(&self, spec: &str, expected: &str) {
        for command in [&["validate", spec][..], &["plan", spec], &["run", spec], &["run", "--no-wait", spec]] {
            let out = self.upshift(command);
            assert_eq!(out.status.code(), Some(2), "{command:?}\n{}\n{}", stdout(&out), stderr(&out));
            assert_eq!(stderr(&out), expected, "{command:?}");
            assert_eq!(stdout(&out), "", "{command:?}");
        }
        assert!(!self.path("state.db").exists(), "no state store, so no rollout");
        for unit in UNITS {
            assert_eq!(self.unit(unit), "1\n", "{unit}");
        }
    }
}

/// The verifier tutorial's step 6 grants, both of them, as every spec using its plugin must have.
const DENY_LIST_GRANTS: &str = "grants.files = [\"policy\"]\ngrants.env = [\"DENIED_VERSIONS\"]\n";

#[test]
fn the_readme_rollout_moves_every_unit_file_to_the_new_version_and_succeeds() {
    let t = Tutorial::new();
    let out = t.upshift(&["run", t.spec("")]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.trim_end().ends_with("rollout fleet-1: succeeded"), "{text}");
    assert_eq!(t.versions(), ["2", "2", "2", "2"]);
    // Each file names the operation that moved it: the canary, the batch, the last batch.
    assert_eq!(t.unit("web-1"), "2\nchanged-by fleet-1/apply/0\n");
    assert_eq!(t.unit("web-3"), "2\nchanged-by fleet-1/apply/1\n");
    assert_eq!(t.unit("web-4"), "2\nchanged-by fleet-1/apply/2\n");
    assert_eq!(t.state("fleet-1"), "succeeded");
    let history = t.history("fleet-1");
    assert!(history.contains("(operation fleet-1/apply/0)"), "{history}");
    assert!(history.contains("apply fleet-1/apply/0: 1 of 1 units written to 2"), "{history}");
}

#[test]
fn a_failed_verification_rolls_the_canary_back_and_leaves_the_other_units_untouched() {
    let t = Tutorial::new();
    let out = t.upshift(&["run", t.spec(&t.deny_list_verifier())]);
    assert_eq!(out.status.code(), Some(4), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).trim_end().ends_with("rollout fleet-1: rolled-back"), "{}", stdout(&out));
    assert_eq!(t.versions(), ["1", "1", "1", "1"]);
    assert_eq!(t.unit("web-1"), "1\nchanged-by fleet-1/rollback/0\n");
    for unit in ["web-2", "web-3", "web-4"] {
        assert_eq!(t.unit(unit), "1\n", "{unit} was written although no stage moved it");
    }
    assert_eq!(t.state("fleet-1"), "rolled-back");
    assert!(t.history("fleet-1").contains("2 is on the deny list"), "{}", t.history("fleet-1"));
}

#[test]
fn a_unit_changed_by_hand_fails_its_stage_and_is_left_as_it_was_while_the_rest_rolls_back() {
    let t = Tutorial::new();
    std::fs::write(t.path("fleet/web-4.version"), "7\n").unwrap();
    let out = t.upshift(&["run", t.spec("")]);
    assert_eq!(out.status.code(), Some(4), "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(t.versions(), ["1", "1", "1", "7"]);
    assert_eq!(t.unit("web-4"), "7\n");
    assert!(stdout(&out).contains("rollback fleet-1/rollback/2: 3 of 3 units written to 1"), "{}", stdout(&out));
    let history = t.history("fleet-1");
    assert!(history.contains("unit web-4 is at 7, neither 1 nor 2"), "{history}");
}

#[test]
fn the_deny_list_read_from_a_granted_file_rolls_the_canary_back() {
    let t = Tutorial::new();
    std::fs::write(t.path("policy/denied.txt"), "# known bad\n2\n").unwrap();
    let verifier =
        t.deny_list_verifier_with(&format!("{DENY_LIST_GRANTS}config = {{ denied_file = \"/policy/denied.txt\" }}"));
    let out = t.upshift(&["run", t.spec(&verifier)]);
    assert_eq!(out.status.code(), Some(4), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("verify deny-list: fail: 2 is on the deny list"), "{}", stdout(&out));
    assert_eq!(t.versions(), ["1", "1", "1", "1"]);
}

#[test]
fn the_deny_list_read_from_a_granted_environment_variable_rolls_the_canary_back() {
    let t = Tutorial::new();
    let verifier = t.deny_list_verifier_with(&format!("{DENY_LIST_GRANTS}config = {{ denied_from_env = true }}"));
    let out = t.command(&["run", t.spec(&verifier)]).env("DENIED_VERSIONS", "3, 2").output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}\n{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("verify deny-list: fail: 2 is on the deny list [denied_versions=2]"),
        "{}",
        stdout(&out)
    );
    assert_eq!(t.versions(), ["1", "1", "1", "1"]);
}

#[test]
fn without_the_grants_validate_plan_and_run_refuse_the_verifier_naming_the_line_the_plugin_and_the_fix() {
    let t = Tutorial::new();
    std::fs::write(t.path("policy/denied.txt"), "2\n").unwrap();
    let verifier = t.deny_list_verifier_with("config = { denied_file = \"/policy/denied.txt\" }");
    let spec = t.spec(&verifier);
    let line = t.line_of(spec, "[[verifiers]]");
    t.assert_refused(
        spec,
        &format!(
            "error: rollout.toml:{line}: verifier deny-list declares files but the spec grants none: add grants.files = \
             [...] to [[verifiers]] #1, or remove capabilities!(files) from the plugin\n\
             error: rollout.toml:{line}: verifier deny-list declares environment variable \"DENIED_VERSIONS\" but the \
             spec does not grant it: add \"DENIED_VERSIONS\" to grants.env in [[verifiers]] #1, or remove it from the \
             plugin's capabilities!(env = [...])\n"
        ),
    );

    // One grant of the two is still refused, on the line of the plugin's grants.
    let verifier =
        t.deny_list_verifier_with("grants.files = [\"policy\"]\nconfig = { denied_file = \"/policy/denied.txt\" }");
    let spec = t.spec(&verifier);
    let line = t.line_of(spec, "grants.files = [\"policy\"]");
    t.assert_refused(
        spec,
        &format!(
            "error: rollout.toml:{line}: verifier deny-list declares environment variable \"DENIED_VERSIONS\" but the \
             spec does not grant it: add \"DENIED_VERSIONS\" to grants.env in [[verifiers]] #1, or remove it from the \
             plugin's capabilities!(env = [...])\n"
        ),
    );

    // And so is a grant the plugin does not declare.
    let grants = "grants.files = [\"policy\"]\ngrants.env = [\"DENIED_VERSIONS\", \"HOME\"]\n";
    let spec = t.spec(&t.deny_list_verifier_with(&format!("{grants}config = {{ denied = [\"2\"] }}")));
    let line = t.line_of(spec, "grants.env = [\"DENIED_VERSIONS\", \"HOME\"]");
    let out = t.command(&["validate", spec]).env("DENIED_VERSIONS", "").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(
        stderr(&out),
        format!(
            "error: rollout.toml:{line}: the spec grants verifier deny-list environment variable \"HOME\" but the \
             plugin does not declare it: remove \"HOME\" from grants.env in [[verifiers]] #1, or the plugin must \
             declare capabilities!(env = [\"HOME\"])\n"
        )
    );
}

#[test]
fn with_both_grants_an_unset_variable_is_a_warning_and_a_missing_file_errors_and_pauses_instead_of_passing() {
    let t = Tutorial::new();
    let verifier =
        t.deny_list_verifier_with(&format!("{DENY_LIST_GRANTS}config = {{ denied_file = \"/policy/denied.txt\" }}"));
    let spec = t.spec(&verifier);
    let line = t.line_of(spec, "grants.env = [\"DENIED_VERSIONS\"]");
    let out = t.command(&["validate", spec]).env_remove("DENIED_VERSIONS").output().unwrap();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(
        stderr(&out),
        format!(
            "warning: rollout.toml:{line}: grants.env gives verifier deny-list environment variable \
             \"DENIED_VERSIONS\", which is not set on this host: the plugin will see it unset\n"
        )
    );
    // The folder is granted but holds no `denied.txt`: the plugin errors, it never passes.
    let out = t.command(&["run", "--no-wait", spec]).env_remove("DENIED_VERSIONS").output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("→ paused: verification of stage canary errored"), "{text}");
    assert!(
        text.contains(
            "verify returned an error (denied): cannot read denied_file /policy/denied.txt: No such file or directory \
             (os error 44) (grant its folder: grants.files = [\"<folder>\"] makes it /<folder>) (not retried: denied)"
        ),
        "{text}"
    );
    assert!(!text.contains("verify deny-list: pass"), "{text}");
    assert_eq!(t.state("fleet-1"), "paused");
    assert_eq!(t.versions(), ["2", "1", "1", "1"], "no stage after the canary");
}

#[test]
fn without_the_folder_grant_validate_plan_and_run_refuse_the_target_naming_the_grant_and_touch_no_file() {
    let t = Tutorial::new();
    t.spec("");
    let spec = std::fs::read_to_string(t.path("rollout.toml")).unwrap();
    let grant = "grants.files = [{ path = \"fleet\", write = true }]\n";
    assert!(spec.contains(grant), "{spec}");
    std::fs::write(t.path("no-grant.toml"), spec.replace(grant, "")).unwrap();
    let line = t.line_of("no-grant.toml", "[target]");
    t.assert_refused(
        "no-grant.toml",
        &format!(
            "error: no-grant.toml:{line}: target version_files declares files but the spec grants none: add \
             grants.files = [...] to [target], or remove capabilities!(files) from the plugin\n"
        ),
    );
}

#[test]
fn a_rollback_refuses_a_unit_another_rollout_moved_meanwhile_and_the_rollout_ends_failed() {
    let t = Tutorial::new();
    t.spec("");
    let spec = std::fs::read_to_string(t.path("rollout.toml")).unwrap();
    let batches = "plugin = \"batches\"\nconfig = { canary = 1, batch_size = 2 }\n";
    assert!(spec.contains(batches), "{spec}");
    let held = "plugin = \"canary\"\nconfig = { steps = [{ units = 1 }, { units = 4, approval = true }] }\n";
    std::fs::write(t.path("held.toml"), spec.replace(batches, held)).unwrap();
    let out = t.upshift(&["run", "--no-wait", "held.toml"]);
    assert_eq!(out.status.code(), Some(3), "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(t.unit("web-1"), "2\nchanged-by fleet-1/apply/0\n");
    // While the rollout waits, another rollout takes web-1 over at the same version.
    std::fs::write(t.path("fleet/web-1.version"), "2\nchanged-by other-1/apply/0\n").unwrap();
    let out = t.upshift(&["abort", "fleet-1"]);
    assert_eq!(out.status.code(), Some(5), "{}\n{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("unit web-1 is at 2 (changed by other-1/apply/0), which rollout fleet-1 did not set"),
        "{}",
        stdout(&out)
    );
    assert_eq!(t.unit("web-1"), "2\nchanged-by other-1/apply/0\n", "the other rollout's change is left");
    assert_eq!(t.versions(), ["2", "1", "1", "1"]);
    assert_eq!(t.state("fleet-1"), "failed");
}
