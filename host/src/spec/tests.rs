use super::*;

const GOOD: &str = r#"
name = "orders-v3"
from = "1"
to = "3"

[target]
file = "plugins/recorder.wasm"
sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
config = { units = ["a", "b"] }
timeout_seconds = 30

[strategy]
plugin = "canary"
config = { steps = [{ units = 1 }] }

[[verifiers]]
plugin = "threshold"
config = { value = 0.1, max = 0.5 }
count = 2
interval_seconds = 1

[failure_policy]
on_fail = "pause"
"#;

fn parse(text: &str) -> Result<RolloutSpec, SpecError> {
    RolloutSpec::parse(Path::new("/specs/rollout.toml"), text)
}

#[test]
fn a_full_spec_parses_with_paths_resolved_against_its_folder() {
    let spec = parse(GOOD).unwrap();
    assert_eq!(spec.target.file.as_deref(), Some(Path::new("/specs/plugins/recorder.wasm")));
    assert_eq!(spec.target.limits().call_timeout, Duration::from_secs(30));
    assert_eq!(spec.verifiers[0].schedule(), (2, 1));
    assert_eq!(spec.policy().on_fail, OnFail::Pause);
    assert_eq!(spec.policy().on_inconclusive, OnInconclusive::Pause);
    assert_eq!(spec.target.config_json(), r#"{"units":["a","b"]}"#);
}

#[test]
fn unknown_fields_are_errors_with_line_and_column() {
    let text = GOOD.replace("timeout_seconds = 30", "timeout_secs = 30");
    let err = parse(&text).unwrap_err().to_string();
    assert!(err.starts_with("/specs/rollout.toml:10:1: "), "{err}");
    assert!(err.contains("timeout_secs"), "{err}");
}

#[test]
fn malformed_toml_names_the_position() {
    let err = parse("name = \"x\"\nfrom = 1.0.0\n").unwrap_err().to_string();
    assert!(err.starts_with("/specs/rollout.toml:2:"), "{err}");
}

#[test]
fn both_plugin_and_file_is_invalid() {
    let text = GOOD.replace("plugin = \"canary\"", "plugin = \"canary\"\nfile = \"x.wasm\"");
    assert!(parse(&text).unwrap_err().to_string().contains("not both"));
}

#[test]
fn same_from_and_to_is_invalid() {
    let text = GOOD.replace("to = \"3\"", "to = \"1\"");
    assert!(parse(&text).unwrap_err().to_string().contains("nothing to upgrade"));
}

#[test]
fn verifier_only_fields_on_the_target_are_invalid() {
    let text = GOOD.replace("timeout_seconds = 30", "count = 3");
    assert!(parse(&text).unwrap_err().to_string().contains("verifiers only"));
}

#[test]
fn duplicate_verifier_names_are_invalid() {
    let text = format!("{GOOD}\n[[verifiers]]\nplugin = \"threshold\"\n");
    let text = text.replace("[failure_policy]\non_fail = \"pause\"\n", "");
    assert!(parse(&text).unwrap_err().to_string().contains("two verifiers"));
}

#[test]
fn out_of_range_limits_are_invalid() {
    assert!(parse(&GOOD.replace("timeout_seconds = 30", "timeout_seconds = 0")).is_err());
    assert!(parse(&GOOD.replace("timeout_seconds = 30", "memory_mib = 4096")).is_err());
}

#[test]
fn bad_policy_values_are_parse_errors() {
    let err = parse(&GOOD.replace("on_fail = \"pause\"", "on_fail = \"explode\"")).unwrap_err().to_string();
    assert!(err.contains("explode") || err.contains("variant"), "{err}");
}

#[test]
fn max_consecutive_errors_of_zero_is_refused_in_one_line_naming_the_minimum() {
    let err = parse(&GOOD.replace("on_fail = \"pause\"", "max_consecutive_errors = 0")).unwrap_err().to_string();
    assert!(err.contains("max_consecutive_errors = 0 must be between 1 and 100"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let one = parse(&GOOD.replace("on_fail = \"pause\"", "max_consecutive_errors = 1")).unwrap();
    assert_eq!(one.policy().max_consecutive_errors, 1);
}

/// Parses `text` as the spec `rollout.toml` of folder `dir`.
fn parse_in(dir: &Path, text: &str) -> Result<RolloutSpec, SpecError> {
    RolloutSpec::parse(&dir.join("rollout.toml"), text)
}

#[test]
fn a_plugin_file_without_sha256_is_refused_naming_the_digest_to_add() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("plugins")).unwrap();
    std::fs::write(dir.path().join("plugins/recorder.wasm"), b"not really a component").unwrap();
    let digest = crate::runtime::Digest::of(b"not really a component").to_hex();
    let text = GOOD.replace("sha256 = \"0000000000000000000000000000000000000000000000000000000000000000\"\n", "");
    let err = parse_in(dir.path(), &text).unwrap_err();
    assert!(matches!(err, SpecError::Unpinned { .. }), "{err:?}");
    let err = err.to_string();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("plugins/recorder.wasm: no sha256 given"), "{err}");
    assert!(err.contains(&format!("add `sha256 = \"{digest}\"` to the spec")), "{err}");
    // Pinned, the same file passes the spec's checks (loading it checks the digest itself).
    let pinned = GOOD.replace(&"0".repeat(64), &digest);
    assert!(parse_in(dir.path(), &pinned).is_ok());
}

/// GOOD, with its target granted `grants.files = [grant]` (folders inside `dir`).
fn granting(dir: &Path, grant: &str) -> Result<RolloutSpec, SpecError> {
    let text = GOOD.replace("timeout_seconds = 30", &format!("grants.files = [{grant:?}]"));
    parse_in(dir, &text)
}

#[test]
fn a_granted_folder_that_is_a_symlink_to_elsewhere_is_refused_naming_the_fix() {
    let (dir, elsewhere) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    std::os::unix::fs::symlink(elsewhere.path(), dir.path().join("data")).unwrap();
    let err = granting(dir.path(), "data").unwrap_err().to_string();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("grants.files entry \"data\" goes through the symlink"), "{err}");
    assert!(err.contains(&elsewhere.path().display().to_string()), "names where it leads: {err}");
    assert!(err.contains("grant a real folder under"), "names the fix: {err}");
}

#[test]
fn a_granted_folder_reached_through_a_symlinked_parent_is_refused() {
    let (dir, elsewhere) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    std::fs::create_dir(elsewhere.path().join("data")).unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), dir.path().join("link")).unwrap();
    let err = granting(dir.path(), "link/data").unwrap_err().to_string();
    assert!(err.contains("goes through the symlink") && err.contains("link"), "{err}");
}

#[test]
fn a_real_granted_folder_is_accepted_and_checked_again_before_loading() {
    let (dir, elsewhere) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    std::fs::create_dir_all(dir.path().join("data/inner")).unwrap();
    // A symlink inside a grant is the sandbox's to refuse at run time, not the spec's.
    std::os::unix::fs::symlink("/etc", dir.path().join("data/inner/etc")).unwrap();
    let spec = granting(dir.path(), "data/inner").unwrap();
    assert_eq!(spec.check_file_grants(), Ok(()));
    // Replaced by a symlink after the rollout was recorded: loading its plugins refuses it.
    std::fs::remove_dir_all(dir.path().join("data")).unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), dir.path().join("data")).unwrap();
    let err = spec.check_file_grants().unwrap_err();
    assert!(err.contains("goes through the symlink"), "{err}");
}

#[test]
fn the_contract_readme_names_the_limit_keys_a_spec_accepts() {
    let readme = include_str!("../../../wit/README.md");
    for (key, value) in [("timeout_seconds", "30"), ("memory_mib", "128")] {
        assert!(readme.contains(&format!("`{key}`")), "wit/README.md does not name `{key}`");
        let text = GOOD.replace("timeout_seconds = 30", &format!("{key} = {value}"));
        assert!(parse(&text).is_ok(), "the spec refuses `{key}`");
    }
    assert!(!readme.contains("`timeout` per plugin"), "wit/README.md names a key the spec refuses");
}

mod fuzz {
    //! A bounded stand-in for `fuzz/fuzz_targets/spec_parse.rs` that runs in the ordinary test
    //! suite: mutated and random specs parse or are refused; nothing panics.
    use super::*;
    use proptest::prelude::*;

    fn mutate(base: &str, edits: &[(usize, u8)], cut: usize) -> String {
        let mut bytes = base.as_bytes().to_vec();
        for &(at, b) in edits {
            let at = at % (bytes.len() + 1);
            match b % 3 {
                0 if at < bytes.len() => bytes[at] = b,
                1 => bytes.insert(at, b"{}[]=\"#\n.,"[b as usize % 10]),
                _ if at < bytes.len() => {
                    bytes.remove(at);
                }
                _ => {}
            }
        }
        bytes.truncate(bytes.len().saturating_sub(cut % 40));
        String::from_utf8_lossy(&bytes).into_owned()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn mutated_specs_never_panic(edits in proptest::collection::vec((0usize..2000, any::<u8>()), 0..12), cut in 0usize..200) {
            let _ = parse(&mutate(GOOD, &edits, cut));
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,400}") {
            let _ = parse(&text);
        }
    }
}
