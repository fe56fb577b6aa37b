//! `upshift plugin inspect` and `upshift plugin list` through the real binary, including the
//! example verifier built exactly as its README walk-through says; and the README's tables of the
//! built-in plugins' config, field for field against their source.

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

/// The `pub` fields of every `Deserialize` struct in `source` (a plugin's config and its parts).
fn config_fields(source: &str) -> std::collections::BTreeSet<String> {
    let mut fields = std::collections::BTreeSet::new();
    let mut in_config = false;
    let mut derives_deserialize = false;
    for line in source.lines().map(str::trim) {
        if line.starts_with("#[derive(") {
            // One item may carry several derive lines (Deserialize, a schema...).
            derives_deserialize |= line.contains("Deserialize");
        } else if ["pub struct ", "struct ", "pub enum ", "enum "].iter().any(|item| line.starts_with(item)) {
            in_config = derives_deserialize && line.starts_with("pub struct ") && line.ends_with('{');
            derives_deserialize = false;
        } else if line == "}" {
            in_config = false;
        } else if in_config && let Some(rest) = line.strip_prefix("pub ") {
            fields.insert(rest.split(':').next().unwrap_or_default().to_string());
        }
    }
    fields
}

/// The fields named in the first column of the tables of the README's section on `plugin`'s config.
fn readme_fields(readme: &str, plugin: &str) -> std::collections::BTreeSet<String> {
    let heading = format!("**`{plugin}`**");
    let start = readme.find(&heading).unwrap_or_else(|| panic!("the README documents no config of {plugin}"));
    let section = &readme[start + heading.len()..];
    let end = section.find("\n**`").into_iter().chain(section.find("\n###")).min().unwrap_or(section.len());
    let mut fields = std::collections::BTreeSet::new();
    for row in section[..end].lines().filter(|l| l.starts_with("| `")) {
        let first = row.split('|').nth(1).unwrap_or_default();
        fields.extend(first.split(',').map(|f| f.trim().trim_matches('`').to_string()));
    }
    fields
}

#[test]
fn the_readme_documents_every_field_of_every_built_in_plugins_config_and_no_other() {
    let root = common::root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let mut plugins: Vec<_> = std::fs::read_dir(root.join("plugins")).unwrap().map(|e| e.unwrap().path()).collect();
    plugins.sort();
    assert!(plugins.len() >= 9, "{plugins:?}");
    for dir in plugins {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        // The config may live in a module of its own (judge: src/config.rs).
        let source: String = rust_files(&dir.join("src")).iter().map(|f| std::fs::read_to_string(f).unwrap()).collect();
        let in_source = config_fields(&source);
        assert!(!in_source.is_empty(), "{name}: no config fields found in its source");
        assert_eq!(readme_fields(&readme, &name), in_source, "{name}: README table vs plugins/{name}/src/");
    }
}

/// Every `.rs` file under `dir`, in a stable order.
fn rust_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    entries
        .into_iter()
        .flat_map(|p| {
            if p.is_dir() {
                rust_files(&p)
            } else if p.extension().is_some_and(|x| x == "rs") {
                vec![p]
            } else {
                vec![]
            }
        })
        .collect()
}

/// The SDK as `cargo package` makes it (what a registry would hold), unpacked outside the
/// repository, builds the example verifier: it needs nothing of the repository, its WIT included.
#[test]
fn the_packaged_sdk_builds_a_plugin_outside_the_repository() {
    let root = common::root();
    let outside = tempfile::tempdir().unwrap();
    let package_dir = root.join("target/sdk-package");
    let out = common::fixtures::nested_cargo()
        .args(["package", "-p", "upshift-sdk", "--allow-dirty", "--no-verify", "--target-dir"])
        .arg(&package_dir)
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(out.status.success(), "cargo package: {}", stderr(&out));
    let krate = std::fs::read_dir(package_dir.join("package"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "crate"))
        .expect("a .crate file");
    let untar =
        std::process::Command::new("tar").arg("xzf").arg(&krate).arg("-C").arg(outside.path()).status().unwrap();
    assert!(untar.success());
    let sdk = std::fs::read_dir(outside.path()).unwrap().next().unwrap().unwrap().path();
    assert!(sdk.join("wit/verifier.wit").exists(), "the package carries the contract");

    let plugin = outside.path().join("deny-versions");
    std::fs::create_dir_all(plugin.join("src")).unwrap();
    std::fs::copy(root.join("examples/custom-verifier/src/lib.rs"), plugin.join("src/lib.rs")).unwrap();
    let manifest = std::fs::read_to_string(root.join("examples/custom-verifier/Cargo.toml"))
        .unwrap()
        .replace("path = \"../../sdk\"", &format!("path = {:?}", sdk.display().to_string()));
    assert!(manifest.contains(&sdk.display().to_string()), "the example depends on the SDK by path: {manifest}");
    std::fs::write(plugin.join("Cargo.toml"), manifest).unwrap();
    let target_dir = root.join("target/outside-sdk");
    let out = common::fixtures::nested_cargo()
        .args(["build", "--quiet", "--release", "--target", "wasm32-wasip2", "--target-dir"])
        .arg(&target_dir)
        .current_dir(&plugin)
        .output()
        .unwrap();
    assert!(out.status.success(), "building against the packaged SDK: {}", stderr(&out));
    let wasm = target_dir.join("wasm32-wasip2/release/deny_versions.wasm");
    let out = run(&["plugin", "inspect", wasm.to_str().unwrap()]);
    assert!(stdout(&out).contains("contract: upshift:plugin@0.2.0"), "{}", stdout(&out));
}

/// `upshift --cache DIR ARGS...` in the quickstart folder.
fn cached(dir: &Path, args: &[&str]) -> std::process::Output {
    common::upshift()
        .arg("--cache")
        .arg(dir)
        .args(args)
        .current_dir(common::root().join("examples/quickstart"))
        .output()
        .unwrap()
}

fn entries(dir: &Path) -> Vec<serde_json::Value> {
    let out = cached(dir, &["plugin", "cache", "list", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap().as_array().unwrap().clone()
}

#[test]
fn the_compiled_plugin_cache_is_filled_once_and_survives_damage_by_compiling_again() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cache");
    let plan = |what: &str| {
        let started = std::time::Instant::now();
        let out = cached(&dir, &["plan", "rollout.toml"]);
        assert!(out.status.success(), "{what}: {}", stderr(&out));
        eprintln!("plan, {what}: {:?}", started.elapsed());
        (stdout(&out), stderr(&out))
    };
    let (cold, said) = plan("cold cache");
    assert!(said.is_empty(), "{said}");
    // The quickstart's three plugins: sql-migrator, batches, sql-check.
    let listed = entries(&dir);
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert!(listed.iter().all(|e| e["current"] == true && e["bytes"].as_u64().unwrap() > 1000), "{listed:?}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
    let (warm, said) = plan("warm cache");
    assert_eq!(warm, cold, "the same plan from compiled plugins");
    assert!(said.is_empty(), "{said}");

    // Truncated, corrupted, made writable by others: each is refused with a warning, compiled again
    // and replaced by a whole entry; the plan is the same.
    let paths: Vec<String> = listed.iter().map(|e| e["path"].as_str().unwrap().to_string()).collect();
    let whole: Vec<Vec<u8>> = paths.iter().map(|p| std::fs::read(p).unwrap()).collect();
    std::fs::write(&paths[0], &whole[0][..whole[0].len() / 3]).unwrap();
    let mut flipped = whole[1].clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x10;
    std::fs::write(&paths[1], &flipped).unwrap();
    std::fs::set_permissions(&paths[2], std::fs::Permissions::from_mode(0o666)).unwrap();
    let (again, said) = plan("damaged cache");
    assert_eq!(again, cold);
    assert_eq!(said.lines().filter(|l| l.contains("its cache entry was not used")).count(), 3, "{said}");
    assert!(said.contains("damaged") && said.contains("writable by others"), "{said}");
    for (path, good) in paths.iter().zip(&whole) {
        assert_eq!(&std::fs::read(path).unwrap(), good, "{path} was written again whole");
        assert_eq!(std::fs::metadata(path).unwrap().permissions().mode() & 0o777, 0o600, "{path}");
    }
    let (_, said) = plan("repaired cache");
    assert!(said.is_empty(), "{said}");

    let out = cached(&dir, &["plugin", "cache", "clear"]);
    assert!(out.status.success() && stdout(&out).contains("removed 3 compiled plugins"), "{}", stdout(&out));
    assert!(entries(&dir).is_empty());
    let out = common::upshift().args(["--no-cache", "plugin", "cache", "list"]).output().unwrap();
    common::assert_one_line_error(&out, "--no-cache was given");
}
