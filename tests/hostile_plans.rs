//! Hostile strategies, verifiers and targets against the host's bounds and read-back (issue #11,
//! classes 5 and 6): plans and verdicts past their bounds are refused (before anything changes)
//! or cut, and a target that answers "done" without doing it never makes a rollout succeed. Each
//! test prints what stopped its attack, then runs a good rollout in the same process.

mod common;

use upshift::engine::Phase;

use common::lab::Lab;

/// The strategy body of the greedy strategy in `mode`.
fn greedy(lab: &Lab, mode: &str) -> String {
    format!("{}\nconfig = {{ mode = \"{mode}\" }}", lab.plugin("greedy-strategy"))
}

/// A plan the host refuses: nothing is recorded, and the target was never called to change anything.
fn refused_plan(mode: &str, needle: &str) {
    let mut lab = Lab::new();
    let spec = lab.compose(None, Some(&greedy(&lab, mode)), None, "");
    let err = lab.run(&spec).err().unwrap_or_else(|| panic!("plan {mode} was accepted"));
    assert!(err.contains("greedy-strategy") && err.contains(needle), "{mode}: {err}");
    assert!(lab.store.list().unwrap().is_empty(), "{mode}: a refused plan recorded a rollout");
    println!("greedy-strategy {mode}: refused: {err}");
    lab.assert_next_rollout_runs();
}

#[test]
fn a_plan_with_too_many_stages_is_refused() {
    refused_plan("many", "planned 10000 stages; at most 100");
}

#[test]
fn a_plan_with_no_stage_is_refused() {
    refused_plan("empty", "planned no stages");
}

#[test]
fn a_stage_that_moves_nothing_is_refused() {
    refused_plan("idle", "stage \"again\" moves nothing");
}

#[test]
fn a_bake_past_the_spec_maximum_is_refused() {
    refused_plan("forever", "bakes 315360000s; the spec allows at most 86400s");
}

#[test]
fn a_stage_name_that_would_forge_a_line_is_refused() {
    refused_plan("name", "contains control characters");
}

#[test]
fn units_left_to_finalize_are_refused_unless_the_spec_allows_them() {
    refused_plan("unstaged", "no stage moves unit b, so only finalize would move them, unverified");
    let mut lab = Lab::new();
    let allowed = lab.compose(None, Some(&greedy(&lab, "unstaged")), None, "[plan]\nallow_unstaged_units = true\n");
    let ended = lab.run(&allowed).expect("allowed by the spec");
    assert_eq!(ended.phase, Phase::Succeeded, "{}", ended.text());
}

/// A rollout whose strategy's decision is refused: rolled back (the lab's `on_error`), with `needle`.
fn refused_decision(mode: &str, needle: &str) {
    let mut lab = Lab::new();
    let verifier = format!("{}\nconfig = {{ value = 0.001, max = 0.01 }}", lab.plugin("threshold"));
    let spec = lab.compose(None, Some(&greedy(&lab, mode)), Some(&verifier), "");
    let ended = lab.run(&spec).expect("the plan is fine");
    let text = ended.text();
    assert_eq!(ended.phase, Phase::RolledBack, "{text}");
    let line = text.lines().find(|l| l.contains(needle)).unwrap_or_else(|| panic!("no {needle:?} in:\n{text}"));
    assert!(line.contains("greedy-strategy"), "{line}");
    println!("greedy-strategy {mode}: stopped by: {line}");
    lab.assert_next_rollout_runs();
}

#[test]
fn endless_bake_extensions_are_cut_off() {
    refused_decision("extend", "extend the bake of this stage more than 10 times");
}

#[test]
fn a_bake_extension_past_the_spec_maximum_is_refused() {
    refused_decision("extend-long", "extend the bake by 315360000s; the spec allows at most 86400s");
}

#[test]
fn a_verdict_with_too_many_measurements_is_refused() {
    let mut lab = Lab::new();
    let ended = lab.attack("verdict-flood", "config = { mode = \"measurements\" }", "10000 measurements");
    assert!(ended.text().contains("at most 64"), "{}", ended.text());
}

#[test]
fn a_verdict_with_huge_text_is_cut() {
    let mut lab = Lab::new();
    let verifier = format!("{}\nconfig = {{ mode = \"text\" }}", lab.plugin("verdict-flood"));
    let ended = lab.run(&lab.spec(&verifier, None)).expect("loads");
    assert_eq!(ended.phase, Phase::Succeeded, "a passing verdict still passes: {}", ended.text());
    let call = ended.history.iter().find(|e| e.message.starts_with("verify verdict-flood")).expect("the call");
    let detail = call.detail.as_ref().expect("detail");
    let reason = detail["reason"].as_str().expect("reason");
    let name = detail["measurements"][0]["name"].as_str().expect("name");
    assert!(reason.len() <= upshift::rollout::bounds::MAX_REASON_BYTES && reason.ends_with("more bytes]"));
    assert!(name.len() <= upshift::rollout::bounds::MAX_MEASUREMENT_NAME_BYTES && name.ends_with("more bytes]"));
    println!(
        "verdict-flood text: reason cut from {} to {} bytes, name from {} to {}",
        512 << 10,
        reason.len(),
        64 << 10,
        name.len()
    );
}

/// A rollout of the lying target over units a, b in two stages (a at 10 %, then b at 100 %), judged
/// by `threshold` (failing when `fail`), lying on `lie_on`.
fn liar(lab: &Lab, lie_on: &str, fail: bool) -> String {
    let target =
        format!("{}\nconfig = {{ units = [\"a\", \"b\"], lie_on = \"{lie_on}\" }}", lab.plugin("lying-target"));
    let strategy = "plugin = \"canary\"\nconfig = { steps = [{ units = 1, weight = 10 }] }";
    let value = if fail { 0.5 } else { 0.001 };
    let verifier = format!("{}\nconfig = {{ value = {value}, max = 0.01 }}", lab.plugin("threshold"));
    lab.compose(Some(&target), Some(strategy), Some(&verifier), "")
}

#[test]
fn a_target_that_says_it_applied_but_did_not_is_rolled_back() {
    for (lie, needle) in [("apply", "unit a is at 1 (expected 2)"), ("weight", "weight 0 (expected 10)")] {
        let mut lab = Lab::new();
        let ended = lab.run(&liar(&lab, lie, false)).expect("loads");
        let text = ended.text();
        assert_eq!(ended.phase, Phase::RolledBack, "{lie}: {text}");
        let line = text.lines().find(|l| l.contains("did not take")).unwrap_or_else(|| panic!("{lie}: {text}"));
        assert!(line.contains(needle) && line.contains("apply done"), "{lie}: {line}");
        assert!(!text.contains("succeeded"), "{text}");
        println!("lying-target {lie}: stopped by: {line}");
        lab.assert_next_rollout_runs();
    }
}

#[test]
fn a_target_that_says_it_finalized_but_did_not_is_rolled_back() {
    let mut lab = Lab::new();
    // One stage moves unit a; the spec lets finalize move b and all traffic, which the liar does not.
    let target =
        format!("{}\nconfig = {{ units = [\"a\", \"b\"], lie_on = \"finalize\" }}", lab.plugin("lying-target"));
    let spec =
        lab.compose(Some(&target), Some(&greedy(&lab, "unstaged")), None, "[plan]\nallow_unstaged_units = true\n");
    let ended = lab.run(&spec).expect("loads");
    let text = ended.text();
    assert_eq!(ended.phase, Phase::RolledBack, "{text}");
    let line = text.lines().find(|l| l.contains("finalize did not take")).unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains("unit b is at 1 (expected 2)") && line.contains("weight 0 (expected 100)"), "{line}");
    // The honest rollback undid unit a, the only one this rollout moved, and read it back.
    assert!(text.contains("rolled back 1 units") && text.contains("read back after rollback: as expected"), "{text}");
    println!("lying-target finalize: stopped by: {line}");
    lab.assert_next_rollout_runs();
}

#[test]
fn a_target_that_says_it_rolled_back_but_did_not_fails_naming_the_drift() {
    let mut lab = Lab::new();
    let ended = lab.run(&liar(&lab, "rollback", true)).expect("loads");
    let text = ended.text();
    assert_eq!(ended.phase, Phase::Failed, "{text}");
    let line = text.lines().find(|l| l.contains("rollback did not take")).unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains("unit a is at 2 (expected 1)") && line.contains("weight 10 (expected 0)"), "{line}");
    println!("lying-target rollback: stopped by: {line}");
    lab.assert_next_rollout_runs();
}

#[test]
fn plan_names_the_units_only_finalize_would_move() {
    let lab = Lab::new();
    let allowed = lab.compose(None, Some(&greedy(&lab, "unstaged")), None, "[plan]\nallow_unstaged_units = true\n");
    std::fs::write(lab.path("allowed.toml"), allowed).unwrap();
    let out = common::upshift_in(lab.dir.path()).args(["--allow-unsigned", "plan", "allowed.toml"]).output().unwrap();
    assert!(out.status.success(), "{}", common::stderr(&out));
    let text = common::stdout(&out);
    assert!(
        text.contains("finalize moves 1 unit(s) no stage moves, unverified ([plan] allow_unstaged_units): b"),
        "{text}"
    );
    let refused = lab.compose(None, Some(&greedy(&lab, "unstaged")), None, "");
    std::fs::write(lab.path("refused.toml"), refused).unwrap();
    let out = common::upshift_in(lab.dir.path()).args(["--allow-unsigned", "plan", "refused.toml"]).output().unwrap();
    common::assert_one_line_error(&out, "no stage moves unit b, so only finalize would move them, unverified");
}

#[test]
fn a_target_that_moves_half_a_stage_is_rolled_back_for_exactly_that_half() {
    let mut lab = Lab::new();
    let target = format!("{}\nconfig = {{ units = [\"a\", \"b\", \"c\", \"d\"] }}", lab.plugin("half-apply"));
    let strategy = "plugin = \"all-at-once\"";
    let spec = lab.compose(Some(&target), Some(strategy), None, "");
    let ended = lab.run(&spec).expect("loads");
    let text = ended.text();
    assert_eq!(ended.phase, Phase::RolledBack, "{text}");
    let line = text.lines().find(|l| l.contains("did not take")).unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains("unit c is at 1 (expected 2), unit d is at 1 (expected 2)"), "{line}");
    assert!(line.contains("the target answered \"all 4 units moved\""), "{line}");
    // The rollback was sent for a and b only: the units observe showed as moved.
    let rollback = ended.history.iter().find(|e| e.message.starts_with("rolled back")).expect("a rollback call");
    assert!(rollback.message.starts_with("rolled back 2 units: rolled back a,b"), "{}", rollback.message);
    println!("half-apply: stopped by: {line}");
    lab.assert_next_rollout_runs();
}
