use super::*;

fn config(toml_text: &str) -> WebhookConfig {
    toml::from_str(toml_text).unwrap()
}

const MINIMAL: &str = r#"
name = "ops"
url = "https://hooks.example.com/upshift"
events = ["rolled-back", "failed"]
secret = "s3cret"
"#;

#[test]
fn a_minimal_webhook_gets_the_documented_defaults() {
    let w = config(MINIMAL);
    assert_eq!(w.events, vec![EventKind::RolledBack, EventKind::Failed]);
    assert_eq!(w.max_attempts, DEFAULT_MAX_ATTEMPTS);
    assert_eq!(w.initial_backoff_ms, DEFAULT_INITIAL_BACKOFF_MS);
    assert_eq!(w.max_backoff_ms, DEFAULT_MAX_BACKOFF_MS);
    assert_eq!(w.timeout_ms, DEFAULT_TIMEOUT_MS);
    assert_eq!(w.validate(), Ok(()));
}

#[test]
fn unknown_keys_and_unknown_events_are_refused() {
    assert!(toml::from_str::<WebhookConfig>(&format!("{MINIMAL}\nretries = 3")).is_err());
    let bad = MINIMAL.replace("\"failed\"", "\"exploded\"");
    assert!(toml::from_str::<WebhookConfig>(&bad).is_err());
}

#[test]
fn every_bad_field_is_refused_with_its_name() {
    let cases: [(&str, &str, &str); 7] = [
        ("url = \"https://hooks.example.com/upshift\"", "url = \"ftp://x/y\"", "not http:// or https://"),
        ("url = \"https://hooks.example.com/upshift\"", "url = \"not a url\"", "is not a URL"),
        ("secret = \"s3cret\"", "secret = \"\"", "`secret` is empty"),
        ("events = [\"rolled-back\", \"failed\"]", "events = []", "`events` is empty"),
        ("name = \"ops\"", "name = \"ops team\"", "letters, digits"),
        ("name = \"ops\"", "name = \"ops\"\nmax_attempts = 0", "`max_attempts` is 0"),
        ("name = \"ops\"", "name = \"ops\"\ninitial_backoff_ms = 10\nmax_backoff_ms = 5", "`initial_backoff_ms` is 10"),
    ];
    for (from, to, said) in cases {
        let err = config(&MINIMAL.replace(from, to)).validate().unwrap_err().to_string();
        assert!(err.contains(said) && err.starts_with("webhook \""), "{to}: {err}");
    }
}

#[test]
fn two_webhooks_with_one_name_are_refused() {
    let err = WebhookConfig::validate_all(&[config(MINIMAL), config(MINIMAL)]).unwrap_err();
    assert_eq!(err, WebhookConfigError::Duplicate { name: "ops".into() });
}

#[test]
fn the_secret_never_shows_in_debug_output() {
    let shown = format!("{:?}", config(MINIMAL));
    assert!(!shown.contains("s3cret") && shown.contains("<redacted>"), "{shown}");
}

#[test]
fn backoff_doubles_from_the_initial_wait_stays_capped_and_keeps_half_its_base() {
    let w = config(&format!("{MINIMAL}\ninitial_backoff_ms = 1000\nmax_backoff_ms = 5000"));
    let ms = |attempt, jitter| w.backoff(attempt, jitter).as_millis();
    assert_eq!((ms(1, 0.0), ms(1, 0.999_999)), (500, 999));
    assert_eq!((ms(2, 0.0), ms(3, 0.0)), (1000, 2000));
    assert_eq!((ms(4, 0.0), ms(4, 1.0)), (2500, 5000), "capped at max_backoff_ms");
    assert_eq!(ms(1000, 1.0), 5000, "no overflow far past the cap");
}
