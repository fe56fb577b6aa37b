//! What [`terminal`], [`cut`] and [`json`] make of hostile text.

use super::*;

/// No character a terminal would act on survives.
fn assert_inert(shown: &str) {
    assert!(!shown.chars().any(is_unsafe), "unsafe character left in {shown:?}");
}

#[test]
fn ordinary_text_is_borrowed_unchanged() {
    let s = "verify error-ratio: pass: value 0.002 <= max 0.01 → ok, naïve 日本 ✓ C:\\path";
    assert!(matches!(terminal(s, MAX_LINE), Cow::Borrowed(_)));
    assert!(matches!(cut(s, MAX_LINE), Cow::Borrowed(_)));
}

#[test]
fn newlines_and_carriage_returns_are_escaped_so_no_line_is_forged() {
    let shown = terminal("ok\nrollout lab-1: succeeded\r\n\tx", MAX_LINE);
    assert_eq!(shown, "ok\\nrollout lab-1: succeeded\\r\\n\\tx");
    assert_eq!(shown.lines().count(), 1);
}

#[test]
fn every_c0_control_and_del_is_escaped_as_hex() {
    for b in (0u8..0x20).chain([0x7f]) {
        let c = char::from(b);
        let shown = terminal(&c.to_string(), MAX_LINE).into_owned();
        assert_inert(&shown);
        if !matches!(c, '\n' | '\r' | '\t') {
            assert_eq!(shown, format!("\\x{b:02x}"));
        }
    }
}

#[test]
fn ansi_osc_and_bell_sequences_become_visible_text() {
    let clear = "\x1b[2J\x1b[32mrollout lab-1: succeeded\x1b[0m";
    assert_eq!(terminal(clear, MAX_LINE), "\\x1b[2J\\x1b[32mrollout lab-1: succeeded\\x1b[0m");
    let clipboard = "\x1b]52;c;Y3VybCBldmls\x07";
    assert_eq!(terminal(clipboard, MAX_LINE), "\\x1b]52;c;Y3VybCBldmls\\x07");
    let link = "\x1b]8;;https://evil.example/\x1b\\here\x1b]8;;\x1b\\";
    assert_inert(&terminal(link, MAX_LINE));
}

#[test]
fn c1_controls_are_escaped_including_the_one_character_csi() {
    for c in '\u{80}'..='\u{9f}' {
        let shown = terminal(&c.to_string(), MAX_LINE).into_owned();
        assert_eq!(shown, format!("\\u{{{:x}}}", c as u32));
    }
}

#[test]
fn bidi_controls_are_escaped() {
    let bidi = ['\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}', '\u{2066}', '\u{2067}', '\u{2068}'];
    for c in bidi.into_iter().chain(['\u{2069}', '\u{200e}', '\u{200f}', '\u{61c}']) {
        assert!(is_unsafe(c), "{c:?}");
    }
    assert_eq!(terminal("\u{202e}dedeeccus\u{202c}", MAX_LINE), "\\u{202e}dedeeccus\\u{202c}");
}

#[test]
fn invisible_format_characters_and_line_separators_are_escaped() {
    let s = "a\u{200b}b\u{2028}c\u{2029}d\u{feff}e\u{ad}f\u{e0041}\u{e007f}g\u{2060}h";
    let shown = terminal(s, MAX_LINE);
    assert_inert(&shown);
    assert_eq!(shown, "a\\u{200b}b\\u{2028}c\\u{2029}d\\u{feff}e\\u{ad}f\\u{e0041}\\u{e007f}g\\u{2060}h");
}

#[test]
fn escaping_is_idempotent() {
    let once = terminal("x\n\x1b[1m\u{202e}y\\n", MAX_LINE).into_owned();
    assert_eq!(terminal(&once, MAX_LINE), once);
}

#[test]
fn a_long_text_is_capped_with_a_mark_naming_what_was_left_out() {
    let s = "a".repeat(1_000_000);
    let shown = terminal(&s, MAX_LINE);
    assert!(shown.len() <= MAX_LINE, "{}", shown.len());
    let kept = shown.find('…').unwrap();
    assert!(shown.ends_with(&format!("… [{} more bytes]", s.len() - kept)), "{}", &shown[kept..]);
}

#[test]
fn the_cap_counts_escapes_and_never_splits_one() {
    let s = "\x1b".repeat(100);
    let shown = terminal(&s, 64);
    assert!(shown.len() <= 64, "{shown}");
    let (kept, _) = shown.split_once('…').unwrap();
    assert_eq!(kept.len() % 4, 0, "an escape was split: {kept}");
    assert!(kept.chars().all(|c| "\\x1b".contains(c)));
}

#[test]
fn the_cap_respects_character_boundaries() {
    let s = "é".repeat(100) + "日本語".repeat(50).as_str();
    for max in MIN_CAP..200 {
        let shown = terminal(&s, max);
        assert!(shown.len() <= max, "{max}: {}", shown.len());
        let stored = cut(&s, max);
        assert!(stored.len() <= max, "{max}: {}", stored.len());
    }
}

#[test]
fn text_that_fits_once_escaped_is_not_cut() {
    let s = "\n".repeat(10);
    assert_eq!(terminal(&s, 20), "\\n".repeat(10));
    assert!(terminal(&s, MIN_CAP).len() <= MIN_CAP);
}

#[test]
fn a_cap_below_the_minimum_is_raised_to_it() {
    let long = "x".repeat(100);
    let shown = terminal(&long, 1);
    assert!(shown.len() <= MIN_CAP && shown.contains('…'), "{shown}");
}

#[test]
fn cut_keeps_control_characters_and_marks_the_cut() {
    let s = format!("\x1b[2J{}", "b".repeat(100));
    let kept = cut(&s, 64);
    assert!(kept.starts_with("\x1b[2J") && kept.len() <= 64, "{kept:?}");
    let end = kept.find('…').unwrap();
    assert!(kept.ends_with(&format!("[{} more bytes]", s.len() - end)), "{kept:?}");
}

#[test]
fn json_escapes_unsafe_characters_and_parses_back_to_the_exact_text() {
    let hostile = "a\x7f\u{9b}31m\u{202e}b\u{200b}\u{2028}\u{e0041}\n\x1b]52;c;x\x07 \"q\" \\ é 日本";
    let value = serde_json::json!({ hostile: [hostile, { "k": hostile }] });
    let text = json::to_string_pretty(&value).unwrap();
    assert_inert(&text.replace('\n', ""));
    assert!(text.contains("\\u202e") && text.contains("\\udb40\\udc41"), "{text}");
    let back: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(back, value);
}

#[test]
fn json_of_plain_values_matches_serde_json() {
    let value = serde_json::json!({ "id": "demo-1", "stages": [1, 2.5, null, true], "name": "naïve ✓" });
    assert_eq!(json::to_string_pretty(&value).unwrap(), serde_json::to_string_pretty(&value).unwrap());
}
