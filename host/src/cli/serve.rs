//! `upshift serve` (the controller and its API) and `upshift token create` (its access tokens).

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use upshift::serve::auth::{self, Role};
use upshift::serve::{DEFAULT_LISTEN, Observers, ServeConfig, ServeOptions};
use upshift::store::Store;
use upshift::trust::TrustPolicy;

use super::exit;
use super::output::{say, warn};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on. A non-loopback address needs at least one token.
    #[arg(long, default_value = DEFAULT_LISTEN, value_name = "ADDR")]
    pub listen: SocketAddr,
    /// The server config (TOML): spec_root, max_parallel, env_allowed, [[tokens]]. See README.
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token: printed once, only its sha256 is stored.
    Create(TokenArgs),
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// viewer (read), operator (approve, pause, resume, abort) or admin (everything, submitting rollouts too).
    #[arg(long, value_parser = ["viewer", "operator", "admin"])]
    pub role: String,
    /// Who the token is; the journal names it as the actor of every control made with it.
    #[arg(long)]
    pub name: String,
}

/// `cache_given`: `--cache`, `UPSHIFT_CACHE` or `--no-cache` chose the plugin cache, over the config's.
pub fn serve(state: &Path, trust: &TrustPolicy, args: ServeArgs, cache_given: bool) -> anyhow::Result<ExitCode> {
    let config = match &args.config {
        Some(path) => ServeConfig::load(path)?,
        None => ServeConfig::default(),
    };
    if let (Some(dir), false) = (&config.cache, cache_given) {
        upshift::runtime::cache::set_dir(Some(dir.clone()));
    }
    let opts = ServeOptions {
        listen: args.listen,
        state: state.to_path_buf(),
        config,
        trust: trust.clone(),
        observers: Observers::default(),
        routes: axum::Router::new(),
    };
    upshift::serve::serve(opts, |addr, open| {
        if open {
            warn(
                "no API token exists: every request from this machine is allowed (loopback only); \
                 `upshift token create --role admin --name NAME` closes it",
            );
        }
        say!("upshift serve: listening on http://{addr} (state {})", state.display());
    })?;
    say!("upshift serve: stopped; every lease given back");
    Ok(ExitCode::from(exit::SUCCESS))
}

pub fn token(state: &Path, command: TokenCommand) -> anyhow::Result<ExitCode> {
    match command {
        TokenCommand::Create(args) => {
            let role = Role::parse(&args.role).ok_or_else(|| anyhow::anyhow!("unknown role {:?}", args.role))?;
            let mut store = Store::open(state)?;
            let token = auth::create(&mut store, &args.name, role)?;
            say!("{token}");
            let note =
                format!("token {:?} ({}) created; it is shown only this once, keep it secret", args.name, role.name());
            let _ = writeln!(std::io::stderr(), "{note}");
            Ok(ExitCode::from(exit::SUCCESS))
        }
    }
}
