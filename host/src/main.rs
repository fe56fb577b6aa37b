//! The `upshift` command line: parses arguments, runs the command, maps errors to exit codes.
//! Everything it does goes through the library; this file only wires it to a terminal. Nothing here
//! or in `cli/` panics on a closed stdout or stderr (`upshift run SPEC | head -1`): output is
//! written with errors ignored, so a rollout is driven to its end whoever stopped reading.

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;

mod cli;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    cli::init_logging(args.verbose);
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            // Our errors carry their causes in their own message; printing the chain would repeat them.
            // They can quote a plugin (its error, a stage name): one line, escaped and capped. A
            // closed stderr loses the line, never the exit code (`eprintln!` would panic: 101).
            // A spec refused by preflight: every problem on its own line.
            let problems = e
                .downcast_ref::<upshift::rollout::preflight::Problems>()
                .or_else(|| e.downcast_ref::<upshift::rollout::start::StartError>().and_then(|s| s.problems()));
            let remote = e.downcast_ref::<upshift::serve::client::ClientError>().and_then(|c| c.problems());
            if let Some(problems) = remote {
                for problem in problems {
                    let _ = writeln!(std::io::stderr(), "{}", cli::output::line(&format!("error: {problem}")));
                }
                return cli::exit::from_error(&e);
            }
            if let Some(problems) = problems {
                for warning in problems.warnings() {
                    cli::output::warn(&warning.to_string());
                }
                for problem in problems.lines() {
                    let _ = writeln!(std::io::stderr(), "{}", cli::output::line(&format!("error: {problem}")));
                }
                return cli::exit::from_error(&e);
            }
            let _ = writeln!(std::io::stderr(), "{}", cli::output::line(&format!("error: {e}")));
            cli::exit::from_error(&e)
        }
    }
}
