//! `rollout::start` without the binary: creation leased to its creator, continuing the rollout of
//! the same name, a freeze holding a spec back with nothing recorded, and whose fault a refusal is.

use std::path::{Path, PathBuf};

use super::*;
use crate::trust::TrustPolicy;

/// A copy of examples/quickstart (specs and migrations) in a temporary folder.
fn quickstart() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/quickstart");
    for entry in std::fs::read_dir(&from).unwrap() {
        let entry = entry.unwrap();
        let to = dir.path().join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() == "shards" {
                continue;
            }
            std::fs::create_dir_all(&to).unwrap();
            for f in std::fs::read_dir(entry.path()).unwrap() {
                let f = f.unwrap();
                std::fs::copy(f.path(), to.join(f.file_name())).unwrap();
            }
        } else if entry.file_name().to_string_lossy().ends_with(".toml") {
            std::fs::copy(entry.path(), to).unwrap();
        }
    }
    dir
}

fn load_spec(runtime: &Runtime, path: &Path, text: &str) -> Result<Loaded, StartError> {
    let spec = RolloutSpec::parse(path, text)?;
    load(runtime, path, spec, &TrustPolicy::default(), false, &mut |_| {})
}

fn provision_text(dir: &Path) -> (PathBuf, String) {
    let path = dir.join("provision.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    (path, text)
}

#[test]
fn a_new_rollout_is_leased_to_its_creator_and_a_second_start_continues_it() {
    let dir = quickstart();
    let runtime = Runtime::new().unwrap();
    let mut store = Store::open(dir.path().join("state.db")).unwrap();
    let (path, text) = provision_text(dir.path());
    let now = jiff::Timestamp::now();
    let loaded = load_spec(&runtime, &path, &text).unwrap();
    let Started::Created { id, plan, .. } = start(&mut store, loaded, &path, "test", now).unwrap() else {
        panic!("not created");
    };
    assert_eq!(id, "quickstart-provision-1");
    assert_eq!(plan.stages.len(), 1);
    assert!(store.rollout(&id).unwrap().lease.is_some_and(|l| l.mine()), "the creator holds the lease");
    let again = load_spec(&runtime, &path, &text).unwrap();
    match start(&mut store, again, &path, "test", now).unwrap() {
        Started::Continuing { id: same, phase, dev } => {
            assert_eq!((same.as_str(), phase.as_str(), dev), (id.as_str(), "pending", false))
        }
        _ => panic!("a second start must continue the first"),
    }
    assert_eq!(store.list().unwrap().len(), 1);
}

#[test]
fn a_freeze_holds_a_spec_back_and_records_nothing() {
    let dir = quickstart();
    let runtime = Runtime::new().unwrap();
    let mut store = Store::open(dir.path().join("state.db")).unwrap();
    let (path, text) = provision_text(dir.path());
    let today = jiff::Zoned::now().with_time_zone(jiff::tz::TimeZone::UTC).date();
    let (from, to) = (today.yesterday().unwrap(), today.tomorrow().unwrap());
    let text =
        format!("{text}\n[[policy.freezes]]\nname = \"now\"\ntimezone = \"UTC\"\nstart = \"{from}\"\nend = \"{to}\"\n");
    let loaded = load_spec(&runtime, &path, &text).unwrap();
    match start(&mut store, loaded, &path, "test", jiff::Timestamp::now()).unwrap() {
        Started::Held { name, reason } => {
            assert_eq!(name, "quickstart-provision");
            assert!(reason.contains("freeze \"now\""), "{reason}");
        }
        _ => panic!("a freeze must hold the spec"),
    }
    assert!(store.list().unwrap().is_empty());
}

#[test]
fn refusals_know_whose_fault_they_are() {
    let dir = quickstart();
    let runtime = Runtime::new().unwrap();
    let (path, text) = provision_text(dir.path());
    let malformed = load_spec(&runtime, &path, "name = ").err().unwrap();
    assert_eq!((malformed.fault(), malformed.code()), (Fault::Input, "invalid_spec"));
    let unknown = text.replace("plugin = \"all-at-once\"", "plugin = \"no-such-strategy\"");
    let refused = load_spec(&runtime, &path, &unknown).err().unwrap();
    assert_eq!((refused.fault(), refused.code()), (Fault::Input, "plugin_refused"), "{refused}");
    let conflict = StartError::Store(StoreError::Conflict { id: "x-1".into() });
    assert_eq!(conflict.fault(), Fault::Conflict);
    let broken = StartError::Store(StoreError::NewerSchema { store: path.clone().into(), found: 9, known: 2 });
    assert_eq!((broken.fault(), broken.code()), (Fault::Internal, "internal"));
}
