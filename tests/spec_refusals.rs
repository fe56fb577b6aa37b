//! A spec's mistakes are refused before anything changes, through the real `upshift` binary: exit
//! code 2 (invalid input, README's table), one line on stderr naming the mistake and its fix, and no
//! state store created.

mod common;

use common::sandbox::Sandbox;
use common::{assert_one_line_error, stdout};

const STEPS: &str = "[{ units = 1 }, { units = 2 }]";

#[test]
fn a_strategy_config_error_found_by_validate_and_plan_is_invalid_input() {
    let sb = Sandbox::new();
    let spec = sb.spec("typo", 99, STEPS);
    sb.edit(&spec, "config = { steps =", "config = { stepz =");
    for command in [&["validate"][..], &["plan"], &["plan", "--json"]] {
        let out = sb.run(&[command, &[spec.to_str().unwrap()]].concat());
        assert_one_line_error(&out, "refuses its config: unknown field");
        assert!(common::stderr(&out).contains("stepz"), "{}", common::stderr(&out));
        assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    }
    assert!(!sb.state().exists(), "a refused spec created the state store");
}

#[test]
fn a_target_config_error_found_by_validate_is_invalid_input() {
    let sb = Sandbox::new();
    let spec = sb.spec("typo", 99, STEPS);
    sb.edit(&spec, "config = { units =", "config = { unitz =");
    let out = sb.run(&["validate", spec.to_str().unwrap()]);
    assert_one_line_error(&out, "refuses its config: unknown field");
    assert!(common::stderr(&out).contains("unitz"), "{}", common::stderr(&out));
}

#[test]
fn a_plugin_file_without_sha256_is_refused_with_the_digest_to_add() {
    let sb = Sandbox::new();
    let spec = sb.spec("unpinned", 99, STEPS);
    let digest = sb.digest("recorder.wasm");
    sb.edit(&spec, &format!("sha256 = \"{digest}\"\n"), "");
    for command in ["validate", "plan", "run"] {
        let out = sb.run(&[command, spec.to_str().unwrap()]);
        assert_one_line_error(&out, "recorder.wasm: no sha256 given");
        assert!(common::stderr(&out).contains(&format!("add `sha256 = \"{digest}\"` to the spec")), "{command}");
    }
    assert!(!sb.state().exists(), "a refused spec created the state store");
}

#[test]
fn a_granted_folder_that_is_a_symlink_is_refused_naming_the_grant_and_the_fix() {
    let sb = Sandbox::new();
    let elsewhere = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), sb.path("data")).unwrap();
    let spec = sb.spec("linked", 99, STEPS);
    sb.edit(&spec, "\"d\"] }\n", "\"d\"] }\ngrants.files = [\"data\"]\n");
    let out = sb.run(&["validate", spec.to_str().unwrap()]);
    assert_one_line_error(&out, "grants.files entry \"data\" goes through the symlink");
    assert!(common::stderr(&out).contains("grant a real folder under"), "{}", common::stderr(&out));

    // The same grant as a real folder passes the folder check; what is left is that the recorder
    // does not declare files (preflight), not the symlink.
    std::fs::remove_file(sb.path("data")).unwrap();
    std::fs::create_dir(sb.path("data")).unwrap();
    let out = sb.run(&["validate", spec.to_str().unwrap()]);
    assert_one_line_error(&out, "the spec grants target recorder files but the plugin does not declare it");
    assert!(!common::stderr(&out).contains("symlink"), "{}", common::stderr(&out));
}

#[test]
fn a_writable_grant_holding_the_compiled_plugin_cache_is_refused() {
    // The cache's entries are native code the host runs: a plugin that may write there could plant
    // code for another plugin. Refused whether the cache folder exists yet or not, and whether the
    // grant holds it or lies inside it; a read-only grant of the same folder is not this refusal.
    let sb = Sandbox::new();
    std::fs::create_dir_all(sb.path("home/.cache")).unwrap();
    let spec = sb.spec("planting", 99, STEPS);
    for (grant, cache) in [("home", "home/.cache/upshift/compiled"), ("home", "home"), ("home", "home/.cache")] {
        sb.edit(&spec, "\"d\"] }\n", &format!("\"d\"] }}\ngrants.files = [{{ path = \"{grant}\", write = true }}]\n"));
        let out = sb.run(&["--cache", sb.path(cache).to_str().unwrap(), "validate", spec.to_str().unwrap()]);
        assert_one_line_error(&out, "is writable and holds upshift's compiled-plugin cache");
        sb.edit(&spec, &format!("grants.files = [{{ path = \"{grant}\", write = true }}]\n"), "");
    }
    sb.edit(&spec, "\"d\"] }\n", "\"d\"] }\ngrants.files = [\"home\"]\n");
    let cache = sb.path("home/.cache/upshift/compiled");
    let out = sb.run(&["--cache", cache.to_str().unwrap(), "validate", spec.to_str().unwrap()]);
    assert!(!common::stderr(&out).contains("compiled-plugin cache"), "{}", common::stderr(&out));
}
