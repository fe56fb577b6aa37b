//! Any text given as a rollout spec parses or is refused with an error; nothing panics.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = upshift::spec::RolloutSpec::parse(Path::new("/fuzz/spec.toml"), text);
    }
});
