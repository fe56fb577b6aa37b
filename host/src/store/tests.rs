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
        runner_pid: None,
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
    a_live_lease_holder_is_refused_and_a_dead_one_replaced,
    timers_are_keyed_by_issue_number,
    reopening_keeps_everything,
    admission_is_decided_inside_the_write_transaction_on_what_is_stored_then,
    a_ten_megabyte_message_and_detail_are_capped_when_journaled_and_the_detail_stays_json,
    a_nul_in_a_plugins_text_is_journaled_as_a_replacement_character,
    a_refused_admission_and_a_stale_commit_leave_the_store_usable,
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

fn a_live_lease_holder_is_refused_and_a_dead_one_replaced(backend: Backend) {
    let (_d, mut s) = open(backend);
    let id = "r-1";
    s.create(new(id, "r"), vec![], vec![]).unwrap();
    assert_eq!(s.acquire_lease(id, 10, |_| true).unwrap(), Ok(()));
    assert_eq!(s.acquire_lease(id, 11, |_| true).unwrap(), Err(10));
    assert_eq!(s.acquire_lease(id, 11, |_| false).unwrap(), Ok(()));
    s.release_lease(id, 11).unwrap();
    assert_eq!(s.rollout(id).unwrap().runner_pid, None);
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
    first.create_admitted(new("a-1", "a"), vec![note("created")], vec![], &at_most_one).unwrap();
    let err = second.create_admitted(new("b-1", "b"), vec![note("created")], vec![], &at_most_one).unwrap_err();
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
    assert_eq!(stored.message, "before\u{FFFD}after");
    assert_eq!(stored.detail.unwrap()["reason"], "a\0b", "inside JSON the NUL is an escape and kept");
}

fn a_refused_admission_and_a_stale_commit_leave_the_store_usable(backend: Backend) {
    let (_d, mut s) = open(backend);
    s.create(new("r-1", "r"), vec![], vec![]).unwrap();
    let refused = s.create_admitted(new("r-2", "r"), vec![note("x")], vec![], &|_| Err("no".into()));
    assert!(matches!(refused, Err(StoreError::Refused { .. })));
    let stale = s.commit("r-1", 7, Commit { entries: vec![note("late")], ..Commit::default() });
    assert!(matches!(stale, Err(StoreError::Conflict { .. })));
    // Each refusal rolled its transaction back: the next write on the same session goes through.
    assert_eq!(s.commit("r-1", 1, Commit { state: Some(("{}".into(), "applying")), ..Commit::default() }).unwrap(), 2);
    assert!(s.history("r-1").unwrap().is_empty(), "nothing of the refused writes was kept");
    assert_eq!(s.list().unwrap().len(), 1);
}
