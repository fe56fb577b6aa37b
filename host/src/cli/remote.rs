//! The rollout commands as a client of `upshift serve` (`--server URL`, `--token`): `run`, `list`,
//! `status`, `history`, `approve`, `pause`, `resume` and `abort` send the API's requests
//! (`upshift::serve::client`) and print the answers with the same views, lines and exit codes as
//! against a local store. The server drives the rollouts: where a local command would drive one
//! itself (`run`, `resume`, `abort`), this follows the rollout's journal instead, printing each
//! entry as `run` prints it, until it ends (or, with `--no-wait`, waits for a human).

use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use upshift::engine::Phase;
use upshift::rollout::view::Detail;
use upshift::serve::client::{Client, Control, Submitted};

use super::exit;
use super::output::{Progress, name, say, warn};
use super::rollout::{
    AbortArgs, ControlArgs, IdArgs, JsonArg, PauseArgs, ResumeArgs, RunArgs, approved_line, pause_line, print_history,
    print_list, print_status,
};

/// How often a followed rollout's journal is read.
pub const FOLLOW_EVERY: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("--dev runs the plugin builds on this machine; it cannot be used with --server (run it locally)")]
    Dev,
    #[error(
        "spec {} is not a relative path under the current folder: say where it goes under the server's spec_root with --server-path PATH",
        .0.display()
    )]
    SpecPath(PathBuf),
    #[error("cannot read spec {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
}

/// `run SPEC` against a server: submits the spec's text and follows the rollout it starts (or the
/// one of the same name that has not ended).
pub fn run(client: &Client, args: RunArgs) -> anyhow::Result<ExitCode> {
    if args.dev {
        return Err(RemoteError::Dev.into());
    }
    let place = match &args.server_path {
        Some(p) => p.clone(),
        None => relative(&args.spec).ok_or_else(|| RemoteError::SpecPath(args.spec.clone()))?,
    };
    let text =
        std::fs::read_to_string(&args.spec).map_err(|source| RemoteError::Read { path: args.spec.clone(), source })?;
    match client.submit(&place, &text)? {
        Submitted::Created { id, from, to, stages, created_through, warnings } => {
            warnings.iter().for_each(|w| warn(w));
            let names: Vec<_> = stages.iter().map(|s| name(s)).collect();
            say!("rollout {id}: {from} → {to}, {} stages ({})", stages.len(), names.join(", "));
            follow(client, &id, created_through, args.no_wait)
        }
        Submitted::Continuing { id } => {
            let seen = journaled_through(client, &id)?;
            say!("continuing rollout {id} ({}) from the journal", client.detail(&id)?.state);
            follow(client, &id, seen, args.no_wait)
        }
        Submitted::Held { line } => {
            say!("{line}");
            Ok(ExitCode::from(exit::NEEDS_HUMAN))
        }
        Submitted::NothingChosen { line } => {
            say!("{line}");
            Ok(ExitCode::from(exit::SUCCESS))
        }
    }
}

/// The spec's path as given, if it is a plain relative one: where it goes under the spec root.
fn relative(spec: &Path) -> Option<String> {
    let parts: Option<Vec<&str>> = spec
        .components()
        .filter(|c| *c != Component::CurDir)
        .map(|c| match c {
            Component::Normal(s) => s.to_str(),
            _ => None,
        })
        .collect();
    parts.filter(|p| !p.is_empty()).map(|p| p.join("/"))
}

pub fn list(client: &Client, args: JsonArg) -> anyhow::Result<ExitCode> {
    print_list(&client.list()?, args.json, &format!("no rollouts on {}", client.url()))
}

pub fn status(client: &Client, args: IdArgs) -> anyhow::Result<ExitCode> {
    print_status(&client.detail(&args.id)?, args.json, &format!("the server at {} picks it up", client.url()))
}

pub fn history(client: &Client, args: IdArgs) -> anyhow::Result<ExitCode> {
    print_history(&client.history_after(&args.id, 0)?, args.json)
}

pub fn approve(client: &Client, args: ControlArgs) -> anyhow::Result<ExitCode> {
    let d = client.control(&args.id, Control::Approve, None)?;
    say!("{}", approved_line(&args.id, &d.state));
    hint_driver(client, &d);
    Ok(ExitCode::from(exit::SUCCESS))
}

pub fn pause(client: &Client, args: PauseArgs) -> anyhow::Result<ExitCode> {
    let d = client.control(&args.id, Control::Pause, args.reason.as_deref())?;
    say!("{}", pause_line(&args.id, d.pause_requested, &d.state));
    hint_driver(client, &d);
    Ok(ExitCode::from(exit::SUCCESS))
}

/// Says who carries the rollout on: the process holding its lease (the server's), or the server.
fn hint_driver(client: &Client, d: &Detail) {
    match &d.runner {
        Some(runner) => say!("the upshift process driving it ({runner}) carries on"),
        None => say!("the server at {} carries it on", client.url()),
    }
}

pub fn resume(client: &Client, args: ResumeArgs) -> anyhow::Result<ExitCode> {
    if args.dev {
        return Err(RemoteError::Dev.into());
    }
    let before = client.detail(&args.id)?;
    if let Some(phase) = before.phase().filter(|p| p.is_terminal()) {
        say!("rollout {} has ended: {phase}", args.id);
        return Ok(exit::for_phase(phase));
    }
    let seen = journaled_through(client, &args.id)?;
    client.control(&args.id, Control::Resume, None)?;
    say!("resumed; the server at {} drives rollout {}", client.url(), args.id);
    follow(client, &args.id, seen, args.no_wait)
}

pub fn abort(client: &Client, args: AbortArgs) -> anyhow::Result<ExitCode> {
    let seen = journaled_through(client, &args.id)?;
    let d = client.control(&args.id, Control::Abort, Some(&args.reason))?;
    say!("aborted: rollout {} is {}", args.id, d.state);
    if let Some(phase) = d.phase().filter(|p| p.is_terminal()) {
        return Ok(exit::for_phase(phase));
    }
    say!("the server at {} rolls it back", client.url());
    follow(client, &args.id, seen, true)
}

/// The `seq` of rollout `id`'s last journal entry: a follower prints what comes after it. (The API
/// has no cheaper way to ask: the whole history is read once.)
fn journaled_through(client: &Client, id: &str) -> anyhow::Result<i64> {
    Ok(client.history_after(id, 0)?.last().map_or(0, |e| e.seq))
}

/// Prints rollout `id`'s journal entries after `seen` as `run` prints them, until the rollout ends
/// (exit code by its phase) or, with `no_wait`, waits for a human (exit 3).
fn follow(client: &Client, id: &str, mut seen: i64, no_wait: bool) -> anyhow::Result<ExitCode> {
    let mut announced: Option<(Phase, Option<String>)> = None;
    loop {
        // The state first, then the journal: every entry up to that state is printed before it
        // is acted on (both commit in one transaction).
        let d = client.detail(id)?;
        for e in client.history_after(id, seen)? {
            Progress::entry(e.kind, &e.message);
            seen = e.seq;
        }
        match d.phase() {
            Some(phase) if phase.is_terminal() => {
                say!("rollout {id}: {phase}");
                return Ok(exit::for_phase(phase));
            }
            Some(phase) if phase.needs_human() && no_wait => {
                say!("rollout {id}: {phase}");
                return Ok(ExitCode::from(exit::NEEDS_HUMAN));
            }
            Some(phase) if phase.needs_human() => {
                let wait = Some((phase, d.note.clone()));
                if announced != wait {
                    Progress::waiting_for(id, phase, d.note.as_deref());
                    announced = wait;
                }
            }
            _ => announced = None,
        }
        std::thread::sleep(FOLLOW_EVERY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_path_goes_to_the_same_place_under_the_spec_root() {
        assert_eq!(relative(Path::new("shard-1/rollout.toml")).as_deref(), Some("shard-1/rollout.toml"));
        assert_eq!(relative(Path::new("./rollout.toml")).as_deref(), Some("rollout.toml"));
        assert_eq!(relative(Path::new("/etc/rollout.toml")), None);
        assert_eq!(relative(Path::new("../rollout.toml")), None);
    }
}
