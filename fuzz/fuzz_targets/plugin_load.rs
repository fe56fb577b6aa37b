//! Any bytes given as a plugin are recognised or refused with an error; nothing panics.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use upshift::runtime::Runtime;

fuzz_target!(|data: &[u8]| {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| Runtime::new().expect("runtime"));
    let _ = runtime.recognise("fuzz.wasm", data);
});
