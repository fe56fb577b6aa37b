//! What the `serve` benchmark runs against: quickstart shard folders provisioned once and copied
//! under a spec root, and the real `upshift serve` binary on 127.0.0.1 and a free port.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The real `upshift` binary, built with the benchmark.
pub fn upshift(state: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_upshift"));
    cmd.env_remove("RUST_LOG").arg("--state").arg(state);
    cmd
}

fn ok(what: &str, out: Output) -> String {
    let said = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert!(out.status.success(), "{what}: {}{}", said(&out.stdout), said(&out.stderr));
    said(&out.stdout)
}

/// Copies `examples/quickstart` to `seed` with `shards` shards and provisions them at v1 (the CLI's
/// `run` of provision.toml, with a state store of its own).
pub fn provision(examples: &Path, seed: &Path, shards: u32) {
    copy_dir(&examples.join("quickstart"), seed);
    for spec in ["provision.toml", "rollout.toml", "broken.toml"] {
        let text = std::fs::read_to_string(seed.join(spec)).expect("read a quickstart spec");
        std::fs::write(seed.join(spec), text.replace("count = 8", &format!("count = {shards}"))).expect("write");
    }
    let out = upshift(&seed.join("state.db"))
        .args(["run", "--no-wait", "provision.toml"])
        .current_dir(seed)
        .output()
        .expect("run upshift");
    ok("provisioning the quickstart shards", out);
}

/// Copies a folder, leaving out state stores.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create a folder");
    for entry in std::fs::read_dir(from).expect("read a folder") {
        let entry = entry.expect("a folder entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &to.join(&name));
        } else if name != "state.db" && !name.starts_with("state.db-") {
            std::fs::copy(entry.path(), to.join(&name)).expect("copy a file");
        }
    }
}

/// `text` (a spec) renamed `name`.
pub fn renamed(text: &str, name: &str) -> String {
    let old = text.lines().find(|l| l.starts_with("name = ")).expect("a spec has a name line");
    text.replacen(old, &format!("name = \"{name}\""), 1)
}

/// A token of `role` made by `upshift token create`.
pub fn token(state: &Path, role: &str, name: &str) -> String {
    let out = upshift(state).args(["token", "create", "--role", role, "--name", name]).output().expect("run upshift");
    ok("upshift token create", out).trim().to_string()
}

/// A running `upshift serve`, stopped with SIGTERM by [`Server::stop`] (killed if dropped first).
pub struct Server {
    child: Child,
    pub base: String,
    stderr: PathBuf,
}

impl Server {
    /// Starts `upshift serve` on 127.0.0.1 and a port the system picks, with `config`; returns once
    /// it answers `/readyz` (it has scanned the store).
    pub fn start(state: &Path, config: &Path, stderr: PathBuf) -> Server {
        let mut child = upshift(state)
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(config)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).expect("create the server's stderr file"))
            .spawn()
            .expect("start upshift serve");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first = lines.next().expect("serve says where it listens").expect("read stdout");
        let addr = first.split("http://").nth(1).and_then(|s| s.split(' ').next()).expect(&first).to_string();
        std::thread::spawn(move || lines.for_each(drop));
        let server = Server { child, base: format!("http://{addr}"), stderr };
        let agent = agent();
        let start = Instant::now();
        while agent.get(format!("{}/readyz", server.base)).call().map(|r| r.status().as_u16()).ok() != Some(200) {
            assert!(start.elapsed() < Duration::from_secs(60), "serve never got ready: {}", server.stderr());
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// SIGTERM; asserts the server exits 0 (every lease given back) within a minute.
    pub fn stop(mut self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().expect("run kill");
        assert!(sent.success(), "kill -TERM {pid}");
        let start = Instant::now();
        loop {
            if let Some(code) = self.child.try_wait().expect("wait for serve") {
                assert!(code.success(), "serve exited {code}: {}", self.stderr());
                return;
            }
            assert!(start.elapsed() < Duration::from_secs(60), "serve did not stop: {}", self.stderr());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// An HTTP client that returns every status as a response (one per client thread: each keeps its
/// connection open).
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

/// `GET base+path` with a bearer token: the status and the body parsed as JSON.
pub fn get_json(agent: &ureq::Agent, url: &str, token: &str) -> (u16, serde_json::Value) {
    let mut response =
        agent.get(url).header("Authorization", &format!("Bearer {token}")).call().expect("GET the server");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().expect("read the body");
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
}
