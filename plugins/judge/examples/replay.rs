//! Offline replay: the judge run natively on a config (the spec's `config` table as JSON), for
//! data a verification recorded (`record`) or any file of samples, or against a live Prometheus.
//! Prints the verdict, its reason and every measurement.
//!
//! ```sh
//! cargo run -p judge --example replay -- config.json [--file samples.json] [--from v1] [--to v2]
//! ```
//! `--file` replaces the config's source with that file (JSON or CSV), so a recording replays
//! through a config that asked Prometheus. `--from`/`--to` fill the queries' placeholders.

use std::process::ExitCode;

use upshift_sdk::serde_json::{self, Value};
use upshift_sdk::{Check, Outcome, Verifier};

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(outcome) => match outcome {
            Outcome::Pass => ExitCode::SUCCESS,
            Outcome::Inconclusive => ExitCode::from(3),
            Outcome::Fail => ExitCode::from(4),
        },
        Err(e) => {
            eprintln!("replay: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Vec<String>) -> Result<Outcome, String> {
    let mut args = args.into_iter();
    let config_path = args.next().ok_or("usage: replay CONFIG.json [--file SAMPLES] [--from V] [--to V]")?;
    let mut check = Check { rollout_id: "replay-1".into(), ..Check::example() };
    let mut file = None;
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--file" => file = Some(value),
            "--from" => check.from_version = value,
            "--to" => check.to_version = value,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    let text = std::fs::read_to_string(&config_path).map_err(|e| format!("{config_path}: {e}"))?;
    let mut config: Value = serde_json::from_str(&text).map_err(|e| format!("{config_path}: {e}"))?;
    if let (Some(file), Some(object)) = (file, config.as_object_mut()) {
        object.remove("prometheus");
        object.remove("record");
        object.insert("file".into(), Value::String(file));
    }
    let config: judge::Config = upshift_sdk::parse_config(&config.to_string()).map_err(|e| e.message)?;
    let verdict = judge::Judge::verify(check, &config).map_err(|e| e.message)?;
    println!("{:?}: {}", verdict.outcome, verdict.reason);
    for m in &verdict.measurements {
        println!("  {} = {} {}", m.name, m.value, m.unit.as_deref().unwrap_or(""));
    }
    Ok(verdict.outcome)
}
