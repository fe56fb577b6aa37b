//! The `upshift` command line: parses arguments, runs the command, maps errors to exit codes.
//! Everything it does goes through the library; this file only wires it to a terminal.

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
            // They can quote a plugin (its error, a stage name): one line, escaped and capped.
            eprintln!("{}", cli::output::line(&format!("error: {e}")));
            cli::exit::from_error(&e)
        }
    }
}
