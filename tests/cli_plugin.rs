//! `upshift plugin inspect` and `upshift plugin list` through the real binary, including the
//! example verifier built exactly as its README walk-through says.

mod common;

use std::path::Path;

use common::{fixture, fixtures, run, stderr, stdout};

#[test]
fn inspect_shows_kind_world_digest_and_imports_of_the_example_verifier() {
    let dir = fixtures::build_components(Path::new("examples/custom-verifier/Cargo.toml"), "example", "release");
    let wasm = dir.join("deny_versions.wasm");
    let out = run(&["plugin", "inspect", wasm.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("kind:     verifier (world upshift:plugin/verifier-plugin@0.2.0)"), "{text}");
    let digest = upshift::runtime::Digest::of(&std::fs::read(&wasm).unwrap()).to_hex();
    assert!(text.contains(&digest), "{text}");
    assert!(text.contains("upshift:plugin/verifier@0.2.0"), "{text}");
}

#[test]
fn inspect_json_describes_a_target() {
    let wasm = fixture("recorder");
    let out = run(&["plugin", "inspect", "--json", wasm.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(json["kind"], "target");
    assert_eq!(json["world"], "upshift:plugin/target-plugin@0.2.0");
    assert_eq!(json["describe"]["name"], "recorder");
    assert_eq!(json["describe"]["capabilities"]["rollback"], true);
    assert_eq!(json["sha256"].as_str().unwrap().len(), 64);
    let imports: Vec<&str> = json["imports"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
    assert!(imports.contains(&"upshift:plugin/state@0.2.0"), "{imports:?}");
}

#[test]
fn inspect_of_a_non_component_is_one_line_and_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("plugin.wasm");
    std::fs::write(&bogus, "#!/bin/sh\necho hi\n").unwrap();
    let out = run(&["plugin", "inspect", bogus.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("plugin.wasm") && err.contains("not WebAssembly"), "{err}");
}

#[test]
fn inspect_of_a_missing_file_names_it() {
    let out = run(&["plugin", "inspect", "/nonexistent/x.wasm"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("/nonexistent/x.wasm"), "{}", stderr(&out));
}

#[test]
fn inspect_takes_a_built_in_plugin_by_name_and_shows_what_it_asks_for() {
    let out = run(&["plugin", "inspect", "haproxy-split"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("kind:     target") && text.contains("asks for: network"), "{text}");
    let out = run(&["plugin", "inspect", "--json", "sql-check"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["asks_for"]["sql"], true, "{json}");
    let out = run(&["plugin", "inspect", "haproxy-splitt"]);
    common::assert_one_line_error(&out, "no such file, and no built-in plugin of that name (built in: all-at-once,");
}

#[test]
fn list_names_the_builtin_strategies() {
    let out = run(&["plugin", "list", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = json.as_array().unwrap().iter().filter_map(|p| p["name"].as_str()).collect();
    for expected in ["all-at-once", "batches", "canary", "linear"] {
        assert!(names.contains(&expected), "{names:?}");
    }
}
