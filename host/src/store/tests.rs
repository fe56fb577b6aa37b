use super::backends_tests::{Backend, Fresh, on_both};
use super::*;

fn new<'a>(id: &'a str, name: &'a str) -> NewRollout<'a> {
    NewRollout {
        id,
        name,
        spec_path: Path::new("/specs/r.toml"),
        spec: "{}",
        plan: "{}",
        state: "{\"phase\":\"pending\"}",
        phase: "pending",
        at: 1,
        leased: false,
    }
}

fn note(message: &str) -> NewEntry {
    NewEntry {
        actor: "test".into(),
        kind: EntryKind::Note,
        event: None,
        from: None,
        to: None,
        stage: None,
        message: message.into(),
        detail: None,
    }
}

fn open(backend: Backend) -> (Fresh, Store) {
    let fresh = Fresh::new(backend);
    let store = fresh.open();
    (fresh, store)
}

on_both!(
    ids_count_per_name,
    commit_checks_the_version_and_appends_to_the_journal,
    plugin_state_round_trips,
    unknown_ids_are_errors_naming_the_id,
    open_existing_does_not_create_a_store,
    a_live_lease_is_refused_and_an_expired_one_taken_over_with_a_higher_epoch,
    a_commit_of_a_holder_that_was_taken_over_is_fenced_and_changes_nothing,
    renewing_keeps_a_lease_and_releasing_hands_it_over_at_once,
    a_lease_of_a_process_of_this_host_that_is_gone_is_taken_at_once,
    timers_are_keyed_by_issue_number,
    reopening_keeps_everything,
    admission_is_decided_inside_the_write_transaction_on_what_is_stored_then,
    a_ten_megabyte_message_and_detail_are_capped_when_journaled_and_the_detail_stays_json,
    a_nul_in_a_plugins_text_is_journaled_as_a_replacement_character,
    a_refused_admission_and_a_stale_commit_leave_the_store_usable,
    a_group_commit_refuses_each_stale_or_fenced_commit_alone,
    the_group_committer_answers_every_caller_after_its_commit,
    unended_lists_the_rollouts_under_way_oldest_first_from_its_index,
    the_runners_commit_that_ends_a_rollout_gives_its_lease_back_in_the_same_write,
);

fn ids_count_per_name(backend: Backend) {
    let (_d, mut s) = open(backend);
    for name in ["orders", "orders", "billing"] {
        let id = s.next_id(name).unwrap();
        s.create(new(&id, name), vec![], vec![]).unwrap();
    }
    let ids: Vec<String> = s.list().unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(ids, vec!["billing-1", "orders-2", "orders-1"]);
}

fn commit_checks_the_version_and_appends_to_the_journal(backend: Backend) {
    let (_d, mut s) = open(backend);
    let id = "r-1";
    s.create(new(id, "r"), vec![note("created")], vec![]).unwrap();
    let commit = |state: &str| Commit {
        state: Some((state.to_string(), "applying")),
        entries: vec![note("moved")],
        plugin_states: vec![],
        at: 2,
        fence: None,
        timer: None,
    };
    let v = s.commit(id, 1, commit("{\"a\":1}")).unwrap();
    assert_eq!(v, 2);
    let err = s.commit(id, 1, commit("{\"a\":2}")).unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    let r = s.rollout(id).unwrap();
    assert_eq!((r.state.as_str(), r.phase.as_str(), r.version), ("{\"a\":1}", "applying", 2));
    let history = s.history(id).unwrap();
    assert_eq!(history.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(), vec!["created", "moved"]);
}

fn plugin_state_round_trips(backend: Backend) {
    let (_d, mut s) = open(backend);
    let id = "r-1";
    s.create(new(id, "r"), vec![], vec![]).unwrap();
    let entries: BTreeMap<String, String> = [("k".to_string(), "v".to_string())].into();
    s.commit(id, 1, Commit { plugin_states: vec![("target".into(), entries.clone())], ..Commit::default() }).unwrap();
    assert_eq!(s.plugin_state(id, "target").unwrap(), entries);
    assert!(s.plugin_state(id, "strategy").unwrap().is_empty());
}

fn unknown_ids_are_errors_naming_the_id(backend: Backend) {
    let (_d, s) = open(backend);
    let err = s.rollout("nope-1").unwrap_err();
    assert!(err.to_string().contains("\"nope-1\""), "{err}");
    assert!(s.history("nope-1").is_err());
}

fn open_existing_does_not_create_a_store(backend: Backend) {
    let fresh = Fresh::new(backend);
    assert!(matches!(Store::open_existing(&fresh.location), Err(StoreError::Missing { .. })));
    assert!(matches!(Store::open_existing(&fresh.location), Err(StoreError::Missing { .. })), "still nothing there");
    if let Location::File(path) = &fresh.location {
        assert!(!path.exists());
    }
}

const TTL: std::time::Duration = std::time::Duration::from_secs(15);
const T0: i64 = 1_000_000;

fn a_live_lease_is_refused_and_an_expired_one_taken_over_with_a_higher_epoch(backend: Backend) {
    let (_d, mut s) = open(backend);
    s.create(new("r-1", "r"), vec![], vec![]).unwrap();
    let a = s.acquire_lease_as("r-1", "A", T0, TTL).unwrap().unwrap();
    assert_eq!(a.epoch, 1);
    assert_eq!(s.acquire_lease_as("r-1", "A", T0 + 1, TTL).unwrap().unwrap(), a, "its own again: same epoch");
    let held = s.acquire_lease_as("r-1", "B", T0 + 14_000, TTL).unwrap().unwrap_err();
    assert_eq!((held.holder.as_str(), held.epoch), ("A", 1));
    let b = s.acquire_lease_as("r-1", "B", T0 + 1 + 15_000, TTL).unwrap().unwrap();
    assert_eq!(b.epoch, 2, "a takeover moves the epoch on");
    assert!(s.acquire_lease_as("r-1", "A", T0 + 16_001, TTL).unwrap().is_err(), "A lost it");
    assert!(matches!(s.acquire_lease_as("nope-1", "A", T0, TTL), Err(StoreError::UnknownRollout { .. })));
}

fn a_commit_of_a_holder_that_was_taken_over_is_fenced_and_changes_nothing(backend: Backend) {
    let (_d, mut s) = open(backend);
    s.create(new("r-1", "r"), vec![note("created")], vec![]).unwrap();
    let a = s.acquire_lease_as("r-1", "A", T0, TTL).unwrap().unwrap();
    let moved = |fence: &Fence| Commit {
        state: Some(("{\"moved\":true}".into(), "applying")),
        entries: vec![note(&format!("by {}", fence.holder))],
        plugin_states: vec![("target".into(), [("k".to_string(), fence.holder.clone())].into())],
        at: 3,
        fence: Some(fence.clone()),
        timer: None,
    };
    // A was paused past its lease; B took over (and has not committed anything yet).
    let b = s.acquire_lease_as("r-1", "B", T0 + 20_000, TTL).unwrap().unwrap();
    let err = s.commit("r-1", 1, moved(&a)).unwrap_err();
    assert!(matches!(&err, StoreError::Fenced { epoch: 1, .. }), "{err}");
    let r = s.rollout("r-1").unwrap();
    assert_eq!((r.version, r.phase.as_str()), (1, "pending"), "the fenced commit wrote nothing");
    assert_eq!(s.history("r-1").unwrap().len(), 1);
    assert!(s.plugin_state("r-1", "target").unwrap().is_empty());
    assert_eq!(s.commit("r-1", 1, moved(&b)).unwrap(), 2, "the new holder commits");
    // A control carries no fence and is never refused for the lease.
    let control = Commit { entries: vec![note("pause")], ..Commit::default() };
    assert_eq!(s.commit("r-1", 2, control).unwrap(), 2);
}

fn renewing_keeps_a_lease_and_releasing_hands_it_over_at_once(backend: Backend) {
    let (_d, mut s) = open(backend);
    s.create(new("r-1", "r"), vec![], vec![]).unwrap();
    s.create(new("r-2", "r"), vec![], vec![]).unwrap();
    for id in ["r-1", "r-2"] {
        s.acquire_lease_as(id, "A", T0, TTL).unwrap().unwrap();
    }
    assert_eq!(s.renew_leases("A", T0 + 10_000, TTL).unwrap(), 2);
    assert!(s.acquire_lease_as("r-1", "B", T0 + 20_000, TTL).unwrap().is_err(), "renewed until T0 + 25 s");
    // This process (not "A") releases only its own.
    s.release_lease("r-2").unwrap();
    assert_eq!(s.rollout("r-2").unwrap().lease.map(|l| l.holder), Some("A".to_string()), "r-2 is still A's");
    s.create(new("r-3", "r"), vec![], vec![]).unwrap();
    let fence = s.acquire_lease("r-3").unwrap().unwrap();
    assert_eq!(fence.holder, crate::store::lease_holder());
    s.release_lease("r-3").unwrap();
    assert_eq!(s.rollout("r-3").unwrap().lease, None);
    let b = s.acquire_lease_as("r-3", "B", crate::rollout::now_ms(), TTL).unwrap().unwrap();
    assert_eq!(b.epoch, 2, "taken at once after the release, one epoch on");
}

fn a_lease_of_a_process_of_this_host_that_is_gone_is_taken_at_once(backend: Backend) {
    let (_d, mut s) = open(backend);
    s.create(new("r-1", "r"), vec![], vec![]).unwrap();
    let host = crate::store::lease_holder().split(':').next().unwrap().to_string();
    let gone = format!("{host}:{}:1", u32::MAX - 1);
    let now = crate::rollout::now_ms();
    s.acquire_lease_as("r-1", &gone, now, TTL).unwrap().unwrap();
    let elsewhere = format!("{host}-other:{}:1", u32::MAX - 1);
    s.create(new("r-2", "r"), vec![], vec![]).unwrap();
    s.acquire_lease_as("r-2", &elsewhere, now, TTL).unwrap().unwrap();
    assert_eq!(s.acquire_lease_as("r-1", "B", now, TTL).unwrap().unwrap().epoch, 2, "no wait for the TTL");
    assert!(s.acquire_lease_as("r-2", "B", now, TTL).unwrap().is_err(), "another host's process: its TTL counts");
}

fn timers_are_keyed_by_issue_number(backend: Backend) {
    let (_d, mut s) = open(backend);
    let id = "r-1";
    s.create(new(id, "r"), vec![], vec![]).unwrap();
    assert_eq!(s.timer(id, 3).unwrap(), None);
    s.set_timer(id, 3, 5000).unwrap();
    assert_eq!(s.timer(id, 3).unwrap(), Some(5000));
    assert_eq!(s.timer(id, 4).unwrap(), None);
}

fn reopening_keeps_everything(backend: Backend) {
    let fresh = Fresh::new(backend);
    let id = "r-1";
    fresh.open().create(new(id, "r"), vec![note("x")], vec![]).unwrap();
    let s = Store::open_existing(&fresh.location).unwrap();
    assert_eq!(s.history(id).unwrap().len(), 1);
}

fn admission_is_decided_inside_the_write_transaction_on_what_is_stored_then(backend: Backend) {
    let (fresh, mut first) = open(backend);
    let mut second = fresh.open();
    let at_most_one = |rollouts: &[RolloutRecord]| match rollouts {
        [] => Ok(()),
        [r, ..] => Err(format!("{} is active", r.id)),
    };
    // Both looked before either wrote: each saw an empty store and would go ahead.
    assert!(at_most_one(&first.list().unwrap()).is_ok() && at_most_one(&second.list().unwrap()).is_ok());
    first.create_admitted(new("a-1", "a"), vec![note("created")], vec![], Some(&at_most_one)).unwrap();
    let err = second.create_admitted(new("b-1", "b"), vec![note("created")], vec![], Some(&at_most_one)).unwrap_err();
    assert!(matches!(&err, StoreError::Refused { reason } if reason == "a-1 is active"), "{err}");
    let ids: Vec<String> = second.list().unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(ids, vec!["a-1"], "the refused rollout wrote nothing");
    let lines = second.db().query_opt("SELECT COUNT(*) FROM journal WHERE rollout_id = 'b-1'", &[]).unwrap();
    let lines = lines.unwrap().int(0).unwrap();
    assert_eq!(lines, 0, "the refused rollout journaled nothing");
}

fn a_ten_megabyte_message_and_detail_are_capped_when_journaled_and_the_detail_stays_json(backend: Backend) {
    let (_d, mut s) = open(backend);
    let id = "r-1";
    s.create(new(id, "r"), vec![], vec![]).unwrap();
    let huge = format!("\x1b[2J{}", "é".repeat(5 << 20));
    let detail = serde_json::json!({ "plugin": "v", "reason": huge, "measurements": [{ "name": huge, "value": 1 }] });
    let entry = NewEntry { detail: Some(detail), ..note(&huge) };
    s.commit(id, 1, Commit { entries: vec![entry], ..Commit::default() }).unwrap();
    let stored = s.history(id).unwrap().pop().unwrap();
    assert!(stored.message.len() <= MAX_MESSAGE_BYTES, "{}", stored.message.len());
    assert!(stored.message.starts_with("\x1b[2Jéé"), "the stored text is the plugin's, cut, not escaped");
    assert!(stored.message.ends_with(" more bytes]"));
    let raw = s.db().query_opt("SELECT detail FROM journal WHERE rollout_id = ?1", db::p![id]).unwrap();
    let raw = raw.unwrap().text(0).unwrap();
    assert!(raw.len() <= MAX_DETAIL_BYTES, "{}", raw.len());
    let detail = stored.detail.expect("the capped detail is still valid JSON");
    assert_eq!(detail["plugin"], "v");
    assert!(detail["reason"].as_str().unwrap().ends_with(" more bytes]"));
    assert!(detail["measurements"][0]["name"].as_str().unwrap().starts_with("\x1b[2J"));
}

fn a_nul_in_a_plugins_text_is_journaled_as_a_replacement_character(backend: Backend) {
    let (_d, mut s) = open(backend);
    s.create(new("r-1", "r"), vec![], vec![]).unwrap();
    let entry = NewEntry { detail: Some(serde_json::json!({ "reason": "a\0b" })), ..note("before\0after") };
    s.commit("r-1", 1, Commit { entries: vec![entry], ..Commit::default() }).unwrap();
    let stored = s.history("r-1").unwrap().pop().unwrap();
    // SQLite keeps the plugin's text exactly; PostgreSQL's text cannot hold a NUL, and refusing it
    // would let a plugin fail the commit.
    let expected = match backend {
        Backend::Sqlite => "before\0after",
        Backend::Postgres => "before\u{FFFD}after",
    };
    assert_eq!(stored.message, expected);
    assert_eq!(stored.detail.unwrap()["reason"], "a\0b", "inside JSON the NUL is an escape and kept");
}

fn a_refused_admission_and_a_stale_commit_leave_the_store_usable(backend: Backend) {
    let (_d, mut s) = open(backend);
    s.create(new("r-1", "r"), vec![], vec![]).unwrap();
    let refused = s.create_admitted(new("r-2", "r"), vec![note("x")], vec![], Some(&|_| Err("no".into())));
    assert!(matches!(refused, Err(StoreError::Refused { .. })));
    let stale = s.commit("r-1", 7, Commit { entries: vec![note("late")], ..Commit::default() });
    assert!(matches!(stale, Err(StoreError::Conflict { .. })));
    // Each refusal rolled its transaction back: the next write on the same session goes through.
    assert_eq!(s.commit("r-1", 1, Commit { state: Some(("{}".into(), "applying")), ..Commit::default() }).unwrap(), 2);
    assert!(s.history("r-1").unwrap().is_empty(), "nothing of the refused writes was kept");
    assert_eq!(s.list().unwrap().len(), 1);
}

fn a_group_commit_refuses_each_stale_or_fenced_commit_alone(backend: Backend) {
    let (_d, mut s) = open(backend);
    for id in ["g-1", "g-2", "g-3", "g-4"] {
        s.create(new(id, "g"), vec![note("created")], vec![]).unwrap();
    }
    let a = s.acquire_lease_as("g-3", "A", T0, TTL).unwrap().unwrap();
    s.acquire_lease_as("g-3", "B", T0 + 20_000, TTL).unwrap().unwrap();
    let moved = |fence: Option<Fence>, timer| Commit {
        state: Some(("{\"moved\":true}".into(), "applying")),
        entries: vec![note("moved")],
        plugin_states: vec![("target".into(), [("k".to_string(), "v".to_string())].into())],
        at: 5,
        fence,
        timer,
    };
    let (ok, stale, fenced, last) =
        (moved(None, Some((1, 1_005))), moved(None, None), moved(Some(a), None), moved(None, None));
    let results = s.commit_group(&[("g-1", 1, &ok), ("g-2", 7, &stale), ("g-3", 1, &fenced), ("g-4", 1, &last)]);
    assert_eq!(results[0].as_ref().ok(), Some(&2));
    assert!(matches!(results[1], Err(StoreError::Conflict { .. })), "{:?}", results[1]);
    assert!(matches!(results[2], Err(StoreError::Fenced { .. })), "{:?}", results[2]);
    assert_eq!(results[3].as_ref().ok(), Some(&2));
    for (id, version, entries, state) in [("g-1", 2, 2, 1), ("g-2", 1, 1, 0), ("g-3", 1, 1, 0), ("g-4", 2, 2, 1)] {
        let r = s.rollout(id).unwrap();
        assert_eq!(r.version, version, "{id}");
        assert_eq!(s.history(id).unwrap().len(), entries, "{id}: a refused commit wrote no entry");
        assert_eq!(s.plugin_state(id, "target").unwrap().len(), state, "{id}: nor any plugin state");
    }
    assert_eq!(s.timer("g-1", 1).unwrap(), Some(1_005), "the bake's due time, with its transition");
    // An unknown rollout in a group is refused alone too.
    let results = s.commit_group(&[("nope-1", 1, &last), ("g-4", 2, &last)]);
    assert!(matches!(results[0], Err(StoreError::UnknownRollout { .. })));
    assert_eq!(results[1].as_ref().ok(), Some(&3));
}

fn the_group_committer_answers_every_caller_after_its_commit(backend: Backend) {
    let (d, mut s) = open(backend);
    let ids: Vec<String> = (1..=16).map(|i| format!("c-{i}")).collect();
    for id in &ids {
        s.create(new(id, "c"), vec![], vec![]).unwrap();
    }
    let committer = crate::store::GroupCommitter::start(d.location.clone()).unwrap();
    std::thread::scope(|scope| {
        for id in &ids {
            let committer = &committer;
            scope.spawn(move || {
                for version in 1..=5 {
                    let commit = Commit {
                        state: Some(("{}".into(), "applying")),
                        entries: vec![note("step")],
                        ..Commit::default()
                    };
                    assert_eq!(committer.commit(id, version, commit).unwrap(), version + 1);
                }
                // A stale one is refused, to its caller only.
                let stale = Commit { state: Some(("{}".into(), "applying")), ..Commit::default() };
                assert!(matches!(committer.commit(id, 1, stale), Err(StoreError::Conflict { .. })));
            });
        }
    });
    for id in &ids {
        assert_eq!((s.rollout(id).unwrap().version, s.history(id).unwrap().len()), (6, 5), "{id}");
    }
    let (commits, groups) = committer.stats();
    assert_eq!(commits, 16 * 6);
    assert!(groups >= 1 && groups <= commits);
}

/// A commit the database itself fails (here a trigger refuses its journal entry) in the middle of a
/// group: the group's transaction is rolled back whole and each commit made on its own, so the one
/// fails, the others are made once, and nothing of the failed one is written.
#[test]
fn a_commit_the_database_fails_inside_a_group_takes_no_other_with_it() {
    let (d, mut s) = open(Backend::Sqlite);
    for id in ["p-1", "p-2", "p-3"] {
        s.create(new(id, "p"), vec![note("created")], vec![]).unwrap();
    }
    let Location::File(path) = &d.location else { unreachable!("a SQLite store") };
    rusqlite::Connection::open(path)
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER poison BEFORE INSERT ON journal WHEN NEW.message = 'poison'
             BEGIN SELECT RAISE(ABORT, 'poisoned entry'); END;",
        )
        .unwrap();
    let moved = |message: &str| Commit {
        state: Some(("{\"moved\":true}".into(), "applying")),
        entries: vec![note(message)],
        plugin_states: vec![("target".into(), [("k".to_string(), "v".to_string())].into())],
        at: 5,
        ..Commit::default()
    };
    let (good, poison) = (moved("fine"), moved("poison"));
    let results = s.commit_group(&[("p-1", 1, &good), ("p-2", 1, &poison), ("p-3", 1, &good)]);
    assert_eq!(results[0].as_ref().ok(), Some(&2));
    assert!(matches!(&results[1], Err(StoreError::Db { .. })), "{:?}", results[1]);
    assert_eq!(results[2].as_ref().ok(), Some(&2));
    for (id, version, entries, state) in [("p-1", 2, 2, 1), ("p-2", 1, 1, 0), ("p-3", 2, 2, 1)] {
        assert_eq!(s.rollout(id).unwrap().version, version, "{id}");
        assert_eq!(s.history(id).unwrap().len(), entries, "{id}: each entry once, none of the failed one");
        assert_eq!(s.plugin_state(id, "target").unwrap().len(), state, "{id}");
    }
}

fn unended_lists_the_rollouts_under_way_oldest_first_from_its_index(backend: Backend) {
    let (_d, mut s) = open(backend);
    // Created out of name order, at times 3, 1, 2, 4.
    for (id, at) in [("c-1", 3), ("a-1", 1), ("b-1", 2), ("d-1", 4)] {
        s.create(NewRollout { at, ..new(id, "r") }, vec![note("created")], vec![]).unwrap();
    }
    let to = |phase: &'static str| Commit { state: Some(("{}".into(), phase)), at: 5, ..Commit::default() };
    s.commit("a-1", 1, to("succeeded")).unwrap();
    s.commit("b-1", 1, to("rolling-back")).unwrap();
    s.commit("d-1", 1, to("failed")).unwrap();
    let unended: Vec<(String, i64)> = s.unended().unwrap().into_iter().map(|(id, v, _)| (id, v)).collect();
    assert_eq!(unended, vec![("b-1".to_string(), 2), ("c-1".to_string(), 1)]);
    s.commit("b-1", 2, to("rolled-back")).unwrap();
    assert_eq!(s.unended().unwrap().len(), 1, "only c-1 is left under way");
}

#[test]
fn the_ended_phases_are_the_engines_terminal_ones_and_the_scan_reads_the_index_alone() {
    let ended: Vec<&str> = crate::engine::Phase::ALL.iter().filter(|p| p.is_terminal()).map(|p| p.name()).collect();
    assert_eq!(ended, ENDED_PHASES);
    let quoted: Vec<String> = ENDED_PHASES.iter().map(|p| format!("'{p}'")).collect();
    let condition = format!("phase NOT IN ({})", quoted.join(", "));
    assert!(UNENDED.contains(&condition), "{UNENDED}");
    assert!(schema::SQLITE_UNENDED_INDEX.contains(&condition), "the index's condition");

    let (d, _s) = open(Backend::Sqlite);
    let Location::File(path) = &d.location else { unreachable!("a SQLite store") };
    let db = rusqlite::Connection::open(path).unwrap();
    let mut explain = db.prepare(&format!("EXPLAIN QUERY PLAN {UNENDED}")).unwrap();
    let plan: Vec<String> = explain.query_map([], |r| r.get(3)).unwrap().map(Result::unwrap).collect();
    assert!(plan.iter().any(|p| p.contains("COVERING INDEX rollouts_unended")), "{plan:?}");
}

fn the_runners_commit_that_ends_a_rollout_gives_its_lease_back_in_the_same_write(backend: Backend) {
    let (_d, mut s) = open(backend);
    s.create(new("r-1", "r"), vec![note("created")], vec![]).unwrap();
    let a = s.acquire_lease_as("r-1", "A", T0, TTL).unwrap().unwrap();
    let to = |phase: &'static str, timer| Commit {
        state: Some((format!("{{\"phase\":\"{phase}\"}}"), phase)),
        entries: vec![note(phase)],
        at: 3,
        fence: Some(a.clone()),
        timer,
        ..Commit::default()
    };
    assert_eq!(s.commit("r-1", 1, to("baking", Some((4, 9_000)))).unwrap(), 2);
    let r = s.rollout("r-1").unwrap();
    assert_eq!((r.phase.as_str(), r.lease.as_ref().map(|l| l.holder.as_str())), ("baking", Some("A")));
    assert_eq!(s.timer("r-1", 4).unwrap(), Some(9_000), "state and timer in one write");
    assert_eq!(s.commit("r-1", 2, to("succeeded", None)).unwrap(), 3);
    let r = s.rollout("r-1").unwrap();
    assert_eq!(r.phase, "succeeded");
    assert!(r.lease.is_none(), "the lease went with the last commit: {:?}", r.lease);
    assert_eq!(s.timer("r-1", 4).unwrap(), Some(9_000), "a commit without a timer keeps the last one");
}
