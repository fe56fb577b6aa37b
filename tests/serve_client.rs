//! The CLI as a client of `upshift serve` (`--server URL --token T`), against the real binary: a
//! rollout started with `run` through the server prints what a local `run` prints and exits by its
//! phase; `list`, `status` and `history` (text and `--json`) print exactly what the same commands
//! print from the server's store; `pause`, `run` of a rollout that has not ended and `resume` say
//! what they say locally; refusals (an unknown id, a control that does not apply) print the local
//! line with the local exit code; a missing or weak token and an unreachable server are one clear
//! line each.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::serve::{Fleet, SHARDS, Server, ups};
use common::{stderr, stdout};

/// `upshift` run in folder `cwd` as a client of `server` with `token`.
fn client(server: &Server, token: &str, cwd: &Path) -> Command {
    let mut cmd = common::upshift();
    cmd.current_dir(cwd).env("UPSHIFT_SERVER", &server.base).env("UPSHIFT_TOKEN", token);
    cmd
}

fn out(mut cmd: Command, args: &[&str]) -> Output {
    cmd.args(args).output().unwrap()
}

/// The same command against the server's own store, as a local CLI runs it.
fn local(fleet: &Fleet, args: &[&str]) -> Output {
    fleet.upshift(args)
}

/// The id in a `rollout ID: ...` line.
fn id_in(line: &str) -> String {
    line.strip_prefix("rollout ").and_then(|l| l.split(':').next()).expect(line).to_string()
}

#[test]
fn run_list_status_and_history_through_the_server_print_what_they_print_locally() {
    let fleet = Fleet::new(3);
    let server = Server::start(&fleet, None);
    let admin = fleet.token("admin", "ci");
    let root = fleet.path("root");

    let run = out(client(&server, &admin, &root), &["run", "r1/rollout.toml"]);
    assert_eq!(run.status.code(), Some(0), "{}\n{}\n{}", stdout(&run), stderr(&run), server.stderr());
    let text = stdout(&run);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("rollout ") && lines[0].contains(": 1 → 3, 2 stages ("), "{text}");
    let id = id_in(lines[0]);
    assert_eq!(lines.last().copied(), Some(format!("rollout {id}: succeeded").as_str()), "{text}");
    for s in 1..=SHARDS {
        assert_eq!(fleet.log(1, s), ups(), "shard {s}: each migration applied once");
    }
    // Every entry the runner journaled is printed as `run` prints it, in order, and nothing else:
    // the journal's entries after its creation, each with `run`'s mark.
    let history = local(&fleet, &["history", "--json", &id]);
    let entries: Vec<serde_json::Value> = serde_json::from_str(&stdout(&history)).unwrap();
    let created = entries.iter().filter(|e| e["actor"] == "ci (api)").count();
    let expected: Vec<String> = entries[created..]
        .iter()
        .map(|e| {
            let message = e["message"].as_str().unwrap();
            match e["kind"].as_str().unwrap() {
                "transition" => format!("→ {message}"),
                "call" => format!("    {message}"),
                _ => format!("  ! {message}"),
            }
        })
        .collect();
    assert_eq!(lines[1..lines.len() - 1], expected, "{text}");

    // The read commands print exactly what they print from the store (the server drives nothing now).
    for args in [
        vec!["list"],
        vec!["list", "--json"],
        vec!["status", id.as_str()],
        vec!["status", "--json", id.as_str()],
        vec!["history", id.as_str()],
        vec!["history", "--json", id.as_str()],
    ] {
        let remote = out(client(&server, &admin, &root), &args);
        let here = local(&fleet, &args);
        assert_eq!(remote.status.code(), Some(0), "{args:?}: {}", stderr(&remote));
        assert_eq!(stdout(&remote), stdout(&here), "{args:?}");
        assert!(!stdout(&remote).is_empty(), "{args:?}");
    }

    // Refusals: the local line and exit code.
    for args in [vec!["status", "no-such-rollout"], vec!["approve", id.as_str()], vec!["resume", "nope"]] {
        let remote = out(client(&server, &admin, &root), &args);
        let here = local(&fleet, &args);
        assert_eq!(remote.status.code(), here.status.code(), "{args:?}: {}", stderr(&remote));
        assert_eq!(remote.status.code(), Some(2), "{args:?}");
        assert_eq!(stderr(&remote), stderr(&here), "{args:?}");
    }
    // An ended rollout: `resume` says so and exits by its phase, as locally.
    let remote = out(client(&server, &admin, &root), &["resume", &id]);
    let here = local(&fleet, &["resume", &id]);
    assert_eq!((remote.status.code(), stdout(&remote)), (here.status.code(), stdout(&here)));

    // The broken upgrade rolls back by itself; the client exits 4, as `run` does.
    let broken = out(client(&server, &admin, &root), &["run", "r2/broken.toml"]);
    assert_eq!(broken.status.code(), Some(4), "{}\n{}", stdout(&broken), stderr(&broken));
    assert!(stdout(&broken).trim_end().ends_with(": rolled-back"), "{}", stdout(&broken));
    assert_eq!(fleet.version(2, 1), 1, "the canary shard is back at v1");

    // `abort` through the server follows the rollback to its end and exits by its phase.
    let mut follower =
        client(&server, &admin, &root).args(["run", "r3/rollout.toml"]).stdout(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(follower.stdout.take().unwrap()).lines();
    let id = id_in(&lines.next().unwrap().unwrap());
    assert!(lines.next().unwrap().unwrap().starts_with("→ "));
    let abort = out(client(&server, &admin, &root), &["abort", "--reason", "not today", &id]);
    let said = stdout(&abort);
    assert_eq!(abort.status.code(), Some(4), "{said}\n{}", stderr(&abort));
    assert!(said.starts_with(&format!("aborted: rollout {id} is ")), "{said}");
    assert!(said.trim_end().ends_with(&format!("rollout {id}: rolled-back")), "{said}");
    assert_eq!(follower.wait().unwrap().code(), Some(4));
    for s in 1..=SHARDS {
        assert_eq!(fleet.version(3, s), 1, "shard {s} is back at v1");
    }
    let history = stdout(&local(&fleet, &["history", &id]));
    assert!(history.contains("ci (api abort)") && history.contains("not today"), "{history}");
}

#[test]
fn pause_a_second_run_and_resume_through_the_server_say_what_they_say_locally() {
    let fleet = Fleet::new(1);
    let server = Server::start(&fleet, None);
    let admin = fleet.token("admin", "ci");
    let operator = fleet.token("operator", "oncall");
    let root = fleet.path("root");

    // A follower: `run` without --no-wait stays until the rollout ends, whoever moves it on.
    let mut follower = client(&server, &admin, &root)
        .args(["run", "r1/rollout.toml"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(follower.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let id = id_in(&first);
    let moved = lines.next().unwrap().unwrap();
    assert!(moved.starts_with("→ "), "{moved}");

    let pause = out(client(&server, &operator, &root), &["pause", "--reason", "look first", &id]);
    assert_eq!(pause.status.code(), Some(0), "{}", stderr(&pause));
    let said = stdout(&pause);
    let first_line = said.lines().next().unwrap();
    assert!(
        first_line == format!("paused: rollout {id}")
            || first_line.starts_with(&format!("pause requested: rollout {id} pauses when its current ")),
        "{said}"
    );
    assert!(said.lines().nth(1).is_some_and(|l| l.contains("carries")), "{said}");
    // The follower says the rollout waits, with the local wording and instructions.
    let waiting = lines.by_ref().map(Result::unwrap).find(|l| l.starts_with("⏸ ")).unwrap();
    assert!(waiting.starts_with("⏸ paused: paused by operator: look first;"), "{waiting}");
    assert!(waiting.contains(&format!("`upshift resume {id}` continues")), "{waiting}");
    let status = out(client(&server, &admin, &root), &["status", &id]);
    assert_eq!(stdout(&status), stdout(&local(&fleet, &["status", &id])));

    // A second `run` of the same spec continues the rollout that has not ended: --no-wait stops
    // at the human's turn with exit 3.
    let again = out(client(&server, &admin, &root), &["run", "--no-wait", "r1/rollout.toml"]);
    assert_eq!(again.status.code(), Some(3), "{}\n{}", stdout(&again), stderr(&again));
    assert_eq!(
        stdout(&again),
        format!("continuing rollout {id} (paused) from the journal\nrollout {id}: paused\n"),
        "{}",
        stderr(&again)
    );

    // A viewer may not resume; the operator may, and `resume` follows the rollout to its end.
    let viewer = fleet.token("viewer", "watcher");
    let refused = out(client(&server, &viewer, &root), &["resume", &id]);
    common::assert_one_line_error(&refused, "token \"watcher\" has the role viewer; this needs operator or above");
    let resume = out(client(&server, &operator, &root), &["resume", &id]);
    assert_eq!(resume.status.code(), Some(0), "{}\n{}", stdout(&resume), stderr(&resume));
    assert!(stdout(&resume).trim_end().ends_with(&format!("rollout {id}: succeeded")), "{}", stdout(&resume));
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    assert_eq!(rest.last().map(String::as_str), Some(format!("rollout {id}: succeeded").as_str()), "{rest:?}");
    assert!(follower.wait().unwrap().success());
    for s in 1..=SHARDS {
        assert_eq!(fleet.log(1, s), ups(), "shard {s}: each migration applied once");
    }
    // The journal names the tokens as the actors of their controls.
    let history = stdout(&local(&fleet, &["history", &id]));
    assert!(history.contains("oncall (api pause)") && history.contains("oncall (api resume)"), "{history}");
}

#[test]
fn no_token_a_wrong_server_and_local_only_options_are_one_line_each() {
    let fleet = Fleet::new(1);
    let server = Server::start(&fleet, None);
    fleet.token("admin", "ci");
    let root = fleet.path("root");

    let none = out(client(&server, "", &root), &["list"]);
    common::assert_one_line_error(&none, "this server requires a token: set UPSHIFT_TOKEN or give --token");
    let wrong = out(client(&server, "not-a-token", &root), &["list"]);
    common::assert_one_line_error(&wrong, "unknown token; `upshift token create` makes one");

    // Nothing listens there: not the input's fault, exit 1.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut unreachable = common::upshift();
    unreachable.current_dir(&root).args(["--server", &format!("http://127.0.0.1:{port}"), "list"]);
    let gone = unreachable.output().unwrap();
    assert_eq!(gone.status.code(), Some(1), "{}", stderr(&gone));
    let line = stderr(&gone);
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(line.starts_with("error: cannot reach the upshift server at http://127.0.0.1:"), "{line}");

    let bad_url = out(client(&server, "t", &root), &["--server", "127.0.0.1:8700", "list"]);
    common::assert_one_line_error(&bad_url, "is not a server address");
    let dev = out(client(&server, "t", &root), &["run", "--dev", "r1/rollout.toml"]);
    common::assert_one_line_error(&dev, "--dev runs the plugin builds on this machine");
    let outside = out(client(&server, "t", &root), &["run", "/etc/rollout.toml"]);
    common::assert_one_line_error(&outside, "--server-path");
    let no_server =
        common::upshift().current_dir(&root).args(["run", "--server-path", "x.toml", "r1/rollout.toml"]).output();
    common::assert_one_line_error(&no_server.unwrap(), "give --server URL");
    // Nothing was created by any of them.
    assert_eq!(stdout(&fleet.upshift(&["list", "--json"])).trim(), "[]");
}
