//! Command definitions (clap) and dispatch to one module per command group.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod exit;
mod plugin;

/// Progressive delivery and auto-upgrades, extended by sandboxed WebAssembly plugins.
#[derive(Debug, Parser)]
#[command(name = "upshift", version, about, long_about = None)]
pub struct Cli {
    /// More log output (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Work with plugin components: inspect a file, list the built-in plugins.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
}

pub fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Plugin(cmd) => plugin::run(cmd),
    }
}
