//! Command definitions (clap) and dispatch to one module per command group.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod exit;
pub mod output;
mod plugin;
mod remote;
mod rollout;
mod serve;
mod views;

/// Progressive delivery and auto-upgrades, extended by sandboxed WebAssembly plugins.
///
/// A rollout spec (TOML) names the versions, the target plugin (what is upgraded), the strategy
/// (how stages are planned) and the verifiers (what judges each stage). `upshift run SPEC` drives
/// it stage by stage, verifying each and rolling back by itself when verification fails.
#[derive(Debug, Parser)]
#[command(name = "upshift", version, about, long_about)]
pub struct Cli {
    /// The state store, where rollouts and their journal live: a SQLite file, or a PostgreSQL database
    /// as a postgres://ROLE@HOST:PORT/DATABASE URL (its password from PGPASSWORD).
    #[arg(long, global = true, env = "UPSHIFT_STATE", value_name = "PATH")]
    pub state: Option<PathBuf>,

    /// The public keys this host trusts to sign plugin files, one per line.
    #[arg(long, global = true, env = "UPSHIFT_TRUSTED_KEYS", value_name = "PATH")]
    pub trusted_keys: Option<PathBuf>,

    /// Run plugin files that are unsigned or signed by an untrusted key (local development only;
    /// recorded in the rollout's audit trail).
    #[arg(long, global = true)]
    pub allow_unsigned: bool,

    /// Talk to the `upshift serve` at this URL instead of the local store: `run`, `list`,
    /// `status`, `history`, `approve`, `pause`, `resume` and `abort` go through its API, with the
    /// same output and exit codes (`plan`, `validate`, `plugin`, `serve` and `token` stay local).
    #[arg(long, global = true, env = "UPSHIFT_SERVER", value_name = "URL")]
    pub server: Option<String>,

    /// The API token for --server (`upshift token create` makes one). Prefer the environment
    /// variable: a command line is visible to other users of the machine.
    #[arg(long, global = true, env = "UPSHIFT_TOKEN", hide_env_values = true, value_name = "TOKEN")]
    pub token: Option<String>,

    /// Where compiled plugins are kept between runs, so a command loads them in milliseconds instead
    /// of compiling them again (default: upshift/compiled under the user's cache folder; `upshift
    /// plugin cache list` shows it).
    #[arg(long, global = true, env = "UPSHIFT_CACHE", value_name = "DIR")]
    pub cache: Option<PathBuf>,

    /// Compile plugins in memory only: read and write no cache.
    #[arg(long, global = true, conflicts_with = "cache")]
    pub no_cache: bool,

    /// More log output (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start (or continue) the rollout a spec describes and drive it to its end.
    Run(rollout::RunArgs),
    /// Show the stages a spec would run, without changing the target.
    Plan(rollout::SpecArgs),
    /// Check a spec: parse it, load its plugins, plan it.
    Validate(rollout::SpecArgs),
    /// List rollouts, newest first.
    List(rollout::JsonArg),
    /// Show where a rollout stands.
    Status(rollout::IdArgs),
    /// The audit trail: every transition and plugin call, with time, actor and reason.
    History(rollout::IdArgs),
    /// Approve the stage a rollout is holding for.
    Approve(rollout::ControlArgs),
    /// Pause a rollout at its next stage boundary.
    Pause(rollout::PauseArgs),
    /// Continue a paused or interrupted rollout and drive it to its end.
    Resume(rollout::ResumeArgs),
    /// Stop a rollout and roll back what it applied.
    Abort(rollout::AbortArgs),
    /// Work with plugin components: inspect a file, list the built-in plugins.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    /// Run the controller: drive every rollout in the store unattended, and answer the HTTP API.
    Serve(serve::ServeArgs),
    /// Manage the API's access tokens.
    #[command(subcommand)]
    Token(serve::TokenCommand),
}

pub fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // The PostgreSQL driver logs the statements it runs at debug level as they are: a plugin's text,
    // which reaches a human only through the host, escaped (crate::text). Never below info.
    if let Ok(directive) = "tokio_postgres=info".parse() {
        filter = filter.add_directive(directive);
    }
    // Colours only on a terminal: a log read from a pipe or a file holds no escape sequence at all,
    // so one there can only be a forgery (and plugin text is escaped before it is traced).
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    // A record that cannot be written (stderr closed: `upshift run SPEC 2>&1 | head -1`) is lost;
    // by default the subscriber would report that with `eprintln!`, which panics on that very
    // stderr and would abandon the rollout mid-call.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .log_internal_errors(false)
        .init();
}

/// An option that only means something with `--server`.
#[derive(Debug, thiserror::Error)]
#[error("{0} places the spec on a server: give --server URL (or UPSHIFT_SERVER) too")]
pub struct NeedsServer(&'static str);

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let state = cli.state.unwrap_or_else(upshift::store::default_path);
    // Before any runtime is made; `serve` may still take its config's `cache` when none was given.
    let cache = if cli.no_cache { None } else { cli.cache.clone().or_else(upshift::runtime::cache::default_dir) };
    upshift::runtime::cache::set_dir(cache);
    let trusted_keys = cli.trusted_keys.unwrap_or_else(upshift::trust::default_trusted_keys_path);
    let trust = || -> anyhow::Result<upshift::trust::TrustPolicy> {
        Ok(upshift::trust::TrustPolicy {
            keys: upshift::trust::TrustedKeys::load(&trusted_keys)?,
            allow_unsigned: cli.allow_unsigned,
            dev: false,
        })
    };
    let command = match &cli.server {
        Some(url) => {
            let client = upshift::serve::client::Client::new(url, cli.token.clone())?;
            match remote_command(&client, cli.command) {
                Ok(done) => return done,
                Err(local) => local,
            }
        }
        None => cli.command,
    };
    match command {
        Command::Run(args) if args.server_path.is_some() => Err(NeedsServer("--server-path").into()),
        Command::Run(args) => rollout::run(&state, &trust()?, args),
        Command::Plan(args) => rollout::plan(&trust()?, args, false),
        Command::Validate(args) => rollout::plan(&trust()?, args, true),
        Command::List(args) => rollout::list(&state, args),
        Command::Status(args) => rollout::status(&state, args),
        Command::History(args) => rollout::history(&state, args),
        Command::Approve(args) => rollout::approve(&state, args),
        Command::Pause(args) => rollout::pause(&state, args),
        Command::Resume(args) => rollout::resume(&state, &trust()?, args),
        Command::Abort(args) => rollout::abort(&state, &trust()?, args),
        Command::Plugin(cmd) => plugin::run(cmd, &trusted_keys),
        Command::Serve(args) => serve::serve(&state, &trust()?, args, cli.cache.is_some() || cli.no_cache),
        Command::Token(cmd) => serve::token(&state, cmd),
    }
}

/// Runs `command` against the server `client` talks to, or hands it back if it always runs
/// locally.
fn remote_command(
    client: &upshift::serve::client::Client,
    command: Command,
) -> Result<anyhow::Result<ExitCode>, Command> {
    Ok(match command {
        Command::Run(args) => remote::run(client, args),
        Command::List(args) => remote::list(client, args),
        Command::Status(args) => remote::status(client, args),
        Command::History(args) => remote::history(client, args),
        Command::Approve(args) => remote::approve(client, args),
        Command::Pause(args) => remote::pause(client, args),
        Command::Resume(args) => remote::resume(client, args),
        Command::Abort(args) => remote::abort(client, args),
        local => return Err(local),
    })
}
