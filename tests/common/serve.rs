//! A running `upshift serve` for the end-to-end tests, and the spec root it serves: one
//! provisioned quickstart folder per rollout.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use serde_json::Value;

use super::{stderr, stdout};

/// Shards per rollout (the quickstart has 8; 4 keep the concurrent test short: a canary, one batch).
pub const SHARDS: u32 = 4;

/// A spec root with one provisioned quickstart folder per rollout, and a state store.
pub struct Fleet {
    pub dir: tempfile::TempDir,
    /// `--state`: `state.db` in `dir`, or a PostgreSQL database.
    state: String,
}

impl Fleet {
    /// `n` folders `r1`..`rn` under `root/`, each with the quickstart's specs and migrations and
    /// `SHARDS` shards at v1 (provisioned once by the CLI with its own state, then copied).
    pub fn new(n: usize) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let seed = dir.path().join("seed");
        super::copy_example("quickstart", &seed);
        for spec in ["provision.toml", "rollout.toml", "broken.toml"] {
            let text = std::fs::read_to_string(seed.join(spec)).unwrap();
            std::fs::write(seed.join(spec), text.replace("count = 8", &format!("count = {SHARDS}"))).unwrap();
        }
        let out = super::upshift_in(&seed).args(["run", "--no-wait", "provision.toml"]).output().unwrap();
        assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
        for i in 1..=n {
            super::copy_dir(&seed, &root.join(format!("r{i}")));
        }
        std::fs::write(
            dir.path().join("serve.toml"),
            format!("spec_root = {:?}\nmax_parallel = 8\n", root.display().to_string()),
        )
        .unwrap();
        let state = dir.path().join("state.db").display().to_string();
        Fleet { dir, state }
    }

    /// An empty spec root (`root/`, created by the caller) and a state store, served with the
    /// default `max_parallel`.
    pub fn empty() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::write(dir.path().join("serve.toml"), format!("spec_root = {:?}\n", root.display().to_string()))
            .unwrap();
        let state = dir.path().join("state.db").display().to_string();
        Fleet { dir, state }
    }

    /// [`Fleet::new`] with the store in a new database on this binary's PostgreSQL cluster.
    pub fn on_postgres(n: usize) -> Self {
        Fleet { state: super::postgres::store_url("fleet"), ..Fleet::new(n) }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The store's `--state` value.
    pub fn state(&self) -> &str {
        &self.state
    }

    /// The spec `file` of folder `r{i}` renamed `name`.
    pub fn spec(&self, i: usize, file: &str, name: &str) -> String {
        let text = std::fs::read_to_string(self.path(&format!("root/r{i}/{file}"))).unwrap();
        let old = text.lines().find(|l| l.starts_with("name = ")).unwrap().to_string();
        text.replace(&old, &format!("name = \"{name}\""))
    }

    /// `(direction, version)` rows of shard `n`'s migration log in folder `r{i}`, oldest first.
    pub fn log(&self, i: usize, n: u32) -> Vec<(String, i64)> {
        let conn = Connection::open(self.path(&format!("root/r{i}/shards/shard-{n}.db"))).unwrap();
        let mut stmt = conn.prepare("SELECT direction, version FROM upshift_migration_log ORDER BY seq").unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
    }

    /// The schema version shard `n` of folder `r{i}` is at.
    pub fn version(&self, i: usize, n: u32) -> i64 {
        let conn = Connection::open(self.path(&format!("root/r{i}/shards/shard-{n}.db"))).unwrap();
        conn.query_row("SELECT COALESCE(MAX(version), 0) FROM upshift_migrations", [], |r| r.get(0)).unwrap()
    }

    pub fn upshift(&self, args: &[&str]) -> std::process::Output {
        super::upshift().arg("--state").arg(self.state()).args(args).output().unwrap()
    }

    pub fn token(&self, role: &str, name: &str) -> String {
        let out = self.upshift(&["token", "create", "--role", role, "--name", name]);
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out).trim().to_string()
    }
}

pub const UP: [(&str, i64); 3] = [("up", 1), ("up", 2), ("up", 3)];

pub fn ups() -> Vec<(String, i64)> {
    UP.iter().map(|(d, v)| (d.to_string(), *v)).collect()
}

/// A running `upshift serve`.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub stderr_file: PathBuf,
    pub agent: ureq::Agent,
    pub token: Option<String>,
}

impl Server {
    pub fn start(fleet: &Fleet, token: Option<&str>) -> Server {
        Server::start_with(fleet, token, &[])
    }

    /// [`Server::start`] with more global options (before `serve`).
    pub fn start_with(fleet: &Fleet, token: Option<&str>, global: &[&str]) -> Server {
        let stderr_file = fleet.path(&format!("serve-{}.stderr", rand_suffix()));
        let mut child = super::upshift()
            .arg("--state")
            .arg(fleet.state())
            .args(global)
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(fleet.path("serve.toml"))
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_file).unwrap())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().expect("serve says where it listens").unwrap();
        let base = first.split("http://").nth(1).and_then(|s| s.split(' ').next()).expect(&first).to_string();
        std::thread::spawn(move || lines.for_each(drop));
        let agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        Server { child, base: format!("http://{base}"), stderr_file, agent, token: token.map(String::from) }
    }

    pub fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut response = match method {
            "GET" => {
                let mut r = self.agent.get(&url);
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.call()
            }
            _ => {
                let mut r = self.agent.post(&url);
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                match body {
                    Some(b) => r.send(b),
                    None => r.send_empty(),
                }
            }
        }
        .unwrap();
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        self.call("GET", path, self.token.as_deref(), None)
    }

    pub fn submit(&self, fleet: &Fleet, i: usize, file: &str, name: &str) -> String {
        let path = format!("/v1/rollouts?path=r{i}/{file}");
        let (status, body) = self.call("POST", &path, self.token.as_deref(), Some(&fleet.spec(i, file, name)));
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().unwrap().to_string()
    }

    /// Phase of every rollout, by id.
    pub fn phases(&self) -> Vec<(String, String)> {
        let (status, body) = self.get("/v1/rollouts?limit=500");
        assert_eq!(status, 200, "{body}");
        body["rollouts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["id"].as_str().unwrap().to_string(), r["state"].as_str().unwrap().to_string()))
            .collect()
    }

    /// Waits until every one of `ids` has ended; returns their phases in order.
    pub fn wait_ended(&self, ids: &[String], limit: Duration) -> Vec<String> {
        let start = Instant::now();
        loop {
            let phases = self.phases();
            let of: Vec<String> = ids
                .iter()
                .map(|id| phases.iter().find(|(i, _)| i == id).map(|p| p.1.clone()).unwrap_or_default())
                .collect();
            if of.iter().all(|p| ["succeeded", "rolled-back", "failed"].contains(&p.as_str())) {
                return of;
            }
            assert!(start.elapsed() < limit, "not ended after {limit:?}: {of:?}\n{}", self.stderr());
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    pub fn signal(&self, sig: &str) {
        let ok = std::process::Command::new("kill").args([sig, &self.child.id().to_string()]).status().unwrap();
        assert!(ok.success());
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_file).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
}
