//! The target's behaviour, tested natively on a real folder: no Wasm runtime, no host.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use upshift_sdk::{ErrorKind, Operation, Target, parse_config};

use super::*;

/// A fresh folder under the system's temp folder, removed when dropped.
struct Fleet(PathBuf);

impl Fleet {
    /// A fleet whose units `a`, `b`, `c` are at version 1 (written by hand: no operation recorded).
    fn at_v1() -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("version-files-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for unit in ["a", "b", "c"] {
            std::fs::write(dir.join(format!("{unit}.version")), "1\n").unwrap();
        }
        Fleet(dir)
    }

    fn config(&self) -> Config {
        Config { folder: self.0.to_string_lossy().into_owned(), units: vec!["a".into(), "b".into(), "c".into()] }
    }

    fn file(&self, unit: &str) -> UnitFile {
        unit_file::read(&self.0.join(format!("{unit}.version"))).unwrap()
    }

    fn versions(&self) -> Vec<String> {
        ["a", "b", "c"].iter().map(|u| self.file(u).version.unwrap_or_default()).collect()
    }

    fn text(&self, unit: &str) -> String {
        std::fs::read_to_string(self.0.join(format!("{unit}.version"))).unwrap()
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn apply(units: &[&str]) -> Operation {
    Operation { units: units.iter().map(|u| u.to_string()).collect(), ..Operation::example() }
}

fn rollback(units: &[&str]) -> Operation {
    Operation { id: "example-1/rollback/1".into(), ..apply(units) }
}

fn versions_of(change: &Change) -> Vec<(String, Option<String>)> {
    change.units.iter().map(|u| (u.unit.clone(), u.version.clone())).collect()
}

#[test]
fn describe_offers_unit_batches_and_rollback() {
    let d = VersionFiles::describe();
    assert_eq!(d.name, "version-files");
    assert!(d.capabilities.unit_batches && d.capabilities.rollback && !d.capabilities.traffic_split);
}

#[test]
fn observe_reads_every_units_file_and_a_missing_file_has_no_version() {
    let fleet = Fleet::at_v1();
    std::fs::remove_file(fleet.0.join("c.version")).unwrap();
    let seen = VersionFiles::observe(&fleet.config(), "1".into(), "2".into()).unwrap();
    let seen: Vec<_> = seen.units.into_iter().map(|u| (u.unit, u.version)).collect();
    assert_eq!(seen, [("a".into(), Some("1".into())), ("b".into(), Some("1".into())), ("c".into(), None)]);
}

#[test]
fn observe_without_the_granted_folder_is_denied_naming_the_grant() {
    let config = Config { folder: "/no/such/grant".into(), units: vec!["a".into()] };
    let err = VersionFiles::observe(&config, "1".into(), "2".into()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Denied);
    assert!(err.message.contains("/no/such/grant") && err.message.contains("grants.files"), "{}", err.message);
}

#[test]
fn apply_moves_only_the_stages_units_and_records_the_operation_in_each_file() {
    let fleet = Fleet::at_v1();
    let change = VersionFiles::apply(apply(&["a", "b"]), &fleet.config()).unwrap();
    assert_eq!(fleet.versions(), ["2", "2", "1"]);
    assert_eq!(fleet.text("a"), "2\nchanged-by example-1/apply/0\n");
    assert_eq!(fleet.text("c"), "1\n", "a unit of no stage yet is untouched");
    assert_eq!(versions_of(&change), [("a".into(), Some("2".into())), ("b".into(), Some("2".into()))]);
    assert!(!fleet.0.join("a.version.tmp").exists(), "the temporary file was renamed over the unit's");
}

#[test]
fn a_resent_apply_after_a_crash_half_way_finishes_the_job_without_rewriting_what_it_did() {
    let fleet = Fleet::at_v1();
    // The first send wrote `a`, then the host died before recording the call's outcome.
    VersionFiles::apply(apply(&["a"]), &fleet.config()).unwrap();
    // A write replaces the file (a new inode); a skipped unit keeps its inode.
    let inode = |u: &str| {
        std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(fleet.0.join(format!("{u}.version"))).unwrap())
    };
    let a_before = inode("a");
    // The host re-sends the same operation (same id, same units) on resume.
    let change = VersionFiles::apply(apply(&["a", "b"]), &fleet.config()).unwrap();
    assert_eq!(fleet.versions(), ["2", "2", "1"]);
    assert_eq!(inode("a"), a_before, "the unit already at the new version was not written again");
    assert!(change.message.contains("1 of 2 units written"), "{}", change.message);
}

#[test]
fn apply_refuses_a_unit_at_a_third_version_and_writes_nothing() {
    let fleet = Fleet::at_v1();
    std::fs::write(fleet.0.join("b.version"), "7\n").unwrap();
    let err = VersionFiles::apply(apply(&["a", "b"]), &fleet.config()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict);
    assert!(err.message.contains("unit b is at 7"), "{}", err.message);
    assert_eq!(fleet.versions(), ["1", "7", "1"], "nothing written, not even the unit before it");
}

#[test]
fn rollback_restores_the_units_this_rollout_moved_and_a_resent_rollback_is_a_no_op() {
    let fleet = Fleet::at_v1();
    VersionFiles::apply(apply(&["a", "b"]), &fleet.config()).unwrap();
    VersionFiles::rollback(rollback(&["a", "b"]), &fleet.config()).unwrap();
    assert_eq!(fleet.versions(), ["1", "1", "1"]);
    assert_eq!(fleet.text("a"), "1\nchanged-by example-1/rollback/1\n");
    let again = VersionFiles::rollback(rollback(&["a", "b"]), &fleet.config()).unwrap();
    assert!(again.message.contains("0 of 2 units written"), "{}", again.message);
    assert_eq!(fleet.text("a"), "1\nchanged-by example-1/rollback/1\n");
}

#[test]
fn rollback_refuses_a_unit_another_rollout_moved_and_leaves_every_file_as_it_was() {
    let fleet = Fleet::at_v1();
    VersionFiles::apply(apply(&["a"]), &fleet.config()).unwrap();
    let other = Operation { id: "example-2/apply/0".into(), rollout_id: "example-2".into(), ..apply(&["b"]) };
    VersionFiles::apply(other, &fleet.config()).unwrap();
    let err = VersionFiles::rollback(rollback(&["a", "b"]), &fleet.config()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict);
    assert!(err.message.contains("unit b") && err.message.contains("example-2/apply/0"), "{}", err.message);
    assert_eq!(fleet.versions(), ["2", "2", "1"], "a is not rolled back either: refused before any write");
}

#[test]
fn rollback_refuses_a_unit_changed_by_hand_to_the_new_version() {
    let fleet = Fleet::at_v1();
    std::fs::write(fleet.0.join("a.version"), "2\n").unwrap();
    let err = VersionFiles::rollback(rollback(&["a"]), &fleet.config()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict);
    assert!(err.message.contains("written outside upshift"), "{}", err.message);
    assert_eq!(fleet.text("a"), "2\n");
}

#[test]
fn finalize_moves_every_unit_not_yet_moved() {
    let fleet = Fleet::at_v1();
    VersionFiles::apply(apply(&["a"]), &fleet.config()).unwrap();
    let finalize = Operation { id: "example-1/finalize".into(), stage_index: 1, ..apply(&["a", "b", "c"]) };
    VersionFiles::finalize(finalize, &fleet.config()).unwrap();
    assert_eq!(fleet.versions(), ["2", "2", "2"]);
    assert_eq!(fleet.file("a").changed_by.as_deref(), Some("example-1/apply/0"), "a kept its apply's record");
    assert_eq!(fleet.file("c").changed_by.as_deref(), Some("example-1/finalize"));
}

#[test]
fn a_config_typo_is_an_invalid_config_naming_the_field() {
    let err = parse_config::<Config>(r#"{"folder": "/fleet", "unit": ["a"]}"#).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidConfig);
    assert!(err.message.contains("unit"), "{}", err.message);
}

#[test]
fn a_unit_name_that_is_a_path_is_an_invalid_config() {
    for bad in ["../secret", "a/b", "", ".."] {
        let err = unit_file::path("/fleet", bad).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidConfig, "{bad:?}");
    }
    assert_eq!(unit_file::path("/fleet", "web-1").unwrap(), Path::new("/fleet/web-1.version"));
}
