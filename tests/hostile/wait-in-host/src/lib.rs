//! Hostile verifier: spends its call waiting inside the host rather than running Wasm, where the
//! epoch deadline does not reach. `mode` picks the wait:
//! - `read`: connects to a granted peer that accepts and never answers, then blocks in a read;
//! - `write`: connects to a granted peer that never reads and writes until the buffers are full;
//! - `sleep`: sleeps `seconds` (a `poll` on a clock pollable).
//!
//! Whatever the wait, returning at all means the host let the plugin outlive its deadline: the
//! verdict then says `ESCAPED`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use upshift_sdk::serde::Deserialize;
use upshift_sdk::{Check, PluginError, Verdict, Verifier};

#[derive(Deserialize, upshift_sdk::JsonSchema)]
#[schemars(crate = "upshift_sdk::schemars")]
#[serde(crate = "upshift_sdk::serde", deny_unknown_fields)]
pub struct Config {
    pub mode: String,
    #[serde(default)]
    pub address: String,
    #[serde(default = "an_hour")]
    pub seconds: u64,
}

fn an_hour() -> u64 {
    3600
}

pub struct Wait;

fn connect(address: &str) -> Result<TcpStream, PluginError> {
    TcpStream::connect(address).map_err(|e| PluginError::unavailable(format!("connect {address}: {e}")))
}

impl Verifier for Wait {
    type Config = Config;

    fn verify(_: Check, config: &Config) -> Result<Verdict, PluginError> {
        let start = Instant::now();
        let what = match config.mode.as_str() {
            "read" => {
                let mut stream = connect(&config.address)?;
                let mut buf = [0u8; 1];
                format!("read returned {:?}", stream.read(&mut buf).map_err(|e| e.to_string()))
            }
            "write" => {
                let mut stream = connect(&config.address)?;
                let chunk = vec![0x55u8; 64 << 10];
                let mut written = 0usize;
                let result = loop {
                    match stream.write_all(&chunk).and_then(|()| stream.flush()) {
                        Ok(()) => written += chunk.len(),
                        Err(e) => break e.to_string(),
                    }
                };
                format!("wrote {written} bytes, then {result}")
            }
            "sleep" => {
                std::thread::sleep(Duration::from_secs(config.seconds));
                "slept".to_string()
            }
            other => return Err(PluginError::invalid_config(format!("unknown mode {other:?}"))),
        };
        Ok(Verdict::pass(format!("ESCAPED: {what} after {:?}", start.elapsed())))
    }
}

upshift_sdk::export_verifier!(Wait);
upshift_sdk::capabilities!(network);
