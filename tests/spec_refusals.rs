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
        assert_one_line_error(&out, "invalid-config");
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
    assert_one_line_error(&out, "invalid-config");
    assert!(common::stderr(&out).contains("unitz"), "{}", common::stderr(&out));
}
