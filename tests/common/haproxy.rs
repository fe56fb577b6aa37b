//! The HAProxy canary scenario the `haproxy_*` end-to-end tests run: the example's files
//! (`examples/haproxy-canary/`) with every address moved to a free port, the demo service as stable
//! and canary, HAProxy, Prometheus and steady load, each stopped when the scenario is dropped; and
//! HAProxy's runtime API, the load generator's reports and a rollout's journal to look at.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{root, stderr, upshift_in};

/// The example's addresses, each moved to a free port: (role, address in the example files).
pub const EXAMPLE_ADDRESSES: [(&str, &str); 6] = [
    ("front", "127.0.0.1:8080"),
    ("stable", "127.0.0.1:8081"),
    ("canary", "127.0.0.1:8082"),
    ("metrics", "127.0.0.1:8404"),
    ("prometheus", "127.0.0.1:9090"),
    ("admin", "127.0.0.1:9999"),
];
/// The example's files each scenario copies.
pub const EXAMPLE_FILES: [&str; 8] = [
    "haproxy.cfg",
    "prometheus.yml",
    "rollout.toml",
    "judged.toml",
    "blue-green.toml",
    "sticky.toml",
    "preview.acl",
    "cohort.map",
];
/// Extra latency of both versions: large enough that HAProxy's millisecond averages compare
/// steadily (the spec allows the canary 1.1 times the stable latency).
pub const SERVICE_LATENCY_MS: &str = "50";
/// Load through HAProxy while the rollouts run.
pub const LOAD_RPS: &str = "200";
pub const LOAD_CONNECTIONS: &str = "16";
/// How long a service or Prometheus may take to come up.
pub const STARTUP_LIMIT: Duration = Duration::from_secs(30);

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Every process of the scenario, stopped when the test ends (also on failure).
pub struct Services {
    pub dir: tempfile::TempDir,
    ports: Vec<(&'static str, SocketAddr)>,
    children: Vec<(String, Child)>,
    bin: PathBuf,
}

impl Drop for Services {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Services {
    pub fn new() -> Self {
        for program in ["haproxy", "prometheus"] {
            let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
                .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
                .any(|d| d.join(program).is_file());
            assert!(found, "{program} is not installed: run `bash scripts/setup.sh` (the test command does)");
        }
        let dir = tempfile::tempdir().unwrap();
        let ports = EXAMPLE_ADDRESSES.iter().map(|(role, _)| (*role, free_address())).collect();
        let services = Services { dir, ports, children: Vec::new(), bin: build_demo() };
        services.copy_example();
        services
    }

    pub fn addr(&self, role: &str) -> SocketAddr {
        self.ports.iter().find(|(r, _)| *r == role).map(|(_, a)| *a).expect("known role")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The example's files with every address moved to this run's free ports, and the folder the
    /// judged spec records into.
    pub fn copy_example(&self) {
        let example = root().join("examples/haproxy-canary");
        std::fs::create_dir_all(self.path("judgements")).unwrap();
        for file in EXAMPLE_FILES {
            let mut text = std::fs::read_to_string(example.join(file)).unwrap();
            for (role, original) in EXAMPLE_ADDRESSES {
                text = text.replace(original, &self.addr(role).to_string());
            }
            std::fs::write(self.path(file), text).unwrap();
        }
    }

    pub fn start(&mut self, name: &str, program: impl AsRef<std::ffi::OsStr>, args: &[&str]) {
        let log = std::fs::File::create(self.path(&format!("{name}.log"))).unwrap();
        let child = Command::new(program)
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        self.children.push((name.to_string(), child));
    }

    pub fn stop(&mut self, name: &str) {
        if let Some(i) = self.children.iter().position(|(n, _)| n == name) {
            let (_, mut child) = self.children.remove(i);
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(&format!("{name}.log"))).unwrap_or_default()
    }

    /// Starts the demo service in `role` as `version`, with `faults` (`--error-rate 0.05`, ...).
    pub fn start_service(&mut self, role: &str, version: &str, faults: &[&str]) {
        let listen = self.addr(role).to_string();
        let program = self.bin.join("demo-service");
        let args = ["--listen", &listen, "--version", version, "--latency-ms", SERVICE_LATENCY_MS];
        let args: Vec<&str> = args.into_iter().chain(faults.iter().copied()).collect();
        self.start(role, program, &args);
        wait_for(&format!("demo-service {role}"), || TcpStream::connect(self.addr(role)).is_ok());
    }

    /// Both services, HAProxy, Prometheus and the load.
    pub fn start_all(&mut self) {
        self.start_routing();
        self.start_prometheus();
        self.start_load();
    }

    /// Both services (v1 as stable, v2 as canary) and HAProxy in front of them.
    pub fn start_routing(&mut self) {
        self.start_service("stable", "v1", &[]);
        self.start_service("canary", "v2", &[]);
        self.start("haproxy", "haproxy", &["-db", "-f", "haproxy.cfg"]);
        wait_for("HAProxy's admin socket", || TcpStream::connect(self.addr("admin")).is_ok());
    }

    /// Prometheus, waiting until it has scraped HAProxy and both services.
    pub fn start_prometheus(&mut self) {
        let listen = format!("--web.listen-address={}", self.addr("prometheus"));
        self.start(
            "prometheus",
            "prometheus",
            &["--config.file=prometheus.yml", "--storage.tsdb.path=prometheus-data", &listen],
        );
        let prometheus = self.addr("prometheus");
        let mut last = None;
        let scraped = |last: &mut Option<String>| {
            // Every target up: HAProxy's exporter and both demo services (`count(up == 1)` is 3).
            *last = http_get(prometheus, "/api/v1/query?query=count%28up%3D%3D1%29");
            last.as_deref().is_some_and(|b| b.contains(r#""value":["#) && b.contains(r#","3"]"#))
        };
        let started = Instant::now();
        while !scraped(&mut last) {
            assert!(
                started.elapsed() < STARTUP_LIMIT,
                "Prometheus has not scraped HAProxy and both services after {STARTUP_LIMIT:?}; last answer {last:?}; log:\n{}",
                self.log("prometheus")
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Steady load through HAProxy (no cookie, no preview header).
    pub fn start_load(&mut self) {
        let url = format!("http://{}/", self.addr("front"));
        let program = self.bin.join("load-gen");
        self.start("load", program, &["--url", &url, "--rps", LOAD_RPS, "--connections", LOAD_CONNECTIONS]);
    }

    /// One command on HAProxy's runtime API.
    pub fn admin(&self, line: &str) -> String {
        admin(self.addr("admin"), line).unwrap_or_else(|e| panic!("HAProxy admin `{line}`: {e}"))
    }

    pub fn weights(&self) -> (u32, u32) {
        let read =
            |s: &str| self.admin(&format!("get weight app/{s}")).split_whitespace().next().unwrap().parse().unwrap();
        (read("stable"), read("canary"))
    }

    /// The last complete report line of the load generator.
    pub fn last_load_report(&self) -> String {
        self.log("load").lines().rfind(|l| l.starts_with("load-gen t=")).unwrap_or_default().to_string()
    }

    pub fn run_rollout(&self) -> std::process::Output {
        self.run("rollout.toml")
    }

    /// `upshift run SPEC` in the scenario's folder.
    pub fn run(&self, spec: &str) -> std::process::Output {
        upshift_in(self.dir.path()).args(["run", spec]).output().expect("run upshift")
    }

    /// Puts all the traffic back on the stable server and waits until HAProxy sees the canary up
    /// (after a restart of it).
    pub fn reset_weights(&self) {
        self.admin("set weight app/stable 100; set weight app/canary 0");
        assert_eq!(self.weights(), (100, 0));
        wait_for("HAProxy to see the canary up", || {
            self.admin("show servers state app").lines().any(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.get(3) == Some(&"canary") && f.get(5) == Some(&"2")
            })
        });
    }
}

/// Ports handed out to the services, below Linux's ephemeral range (32768 and up by default): a
/// port taken from that range could be given to an outgoing connection (load, health checks,
/// scrapes) before the service that should listen on it has started.
pub const SERVICE_PORTS: std::ops::Range<u16> = 20_000..32_000;

/// A free 127.0.0.1 address outside the ephemeral range, different on every call in this process.
pub fn free_address() -> SocketAddr {
    use std::sync::atomic::AtomicU16;
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let span = SERVICE_PORTS.end - SERVICE_PORTS.start;
    let seed = (std::process::id() as u64 ^ now_ms() as u64) % u64::from(span);
    let _ = NEXT.compare_exchange(0, seed as u16 + 1, Ordering::SeqCst, Ordering::SeqCst);
    for _ in 0..span {
        let offset = NEXT.fetch_add(1, Ordering::SeqCst) % span;
        let address = SocketAddr::from(([127, 0, 0, 1], SERVICE_PORTS.start + offset));
        if TcpListener::bind(address).is_ok() {
            return address;
        }
    }
    panic!("no free port in {SERVICE_PORTS:?}")
}

pub fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < STARTUP_LIMIT, "{what} not ready after {STARTUP_LIMIT:?}");
        thread::sleep(Duration::from_millis(100));
    }
}

/// Builds the demo service and load generator (a std-only crate) into their own target folder.
pub fn build_demo() -> PathBuf {
    let root = root();
    let target = root.join("target/demo");
    let mut cmd = super::fixtures::nested_cargo();
    cmd.args(["build", "--quiet", "-p", "upshift-demo", "--bins", "--target-dir"]).arg(&target).current_dir(&root);
    assert!(cmd.status().expect("run cargo").success(), "building upshift-demo failed");
    target.join("debug")
}

pub fn admin(address: SocketAddr, line: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.write_all(format!("{line}\n").as_bytes())?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

/// A plain HTTP/1.0 GET; the body, or `None` when the server is not answering yet.
pub fn http_get(address: SocketAddr, path: &str) -> Option<String> {
    http_get_with(address, path, &[])
}

/// [`http_get`] with extra headers (`("Cookie", "user=u1")`, `("X-Preview", "green")`).
pub fn http_get_with(address: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Option<String> {
    let mut stream = TcpStream::connect(address).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let extra: String = headers.iter().map(|(n, v)| format!("{n}: {v}\r\n")).collect();
    stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: {address}\r\n{extra}\r\n").as_bytes()).ok()?;
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status).ok()?;
    let mut all = String::new();
    reader.read_to_string(&mut all).ok()?;
    status.contains(" 200 ").then(|| all.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default())
}

/// Polls the canary's weight on HAProxy every few milliseconds, keeping when it changed.
pub struct WeightWatch {
    stop: Arc<AtomicBool>,
    changes: Arc<Mutex<Vec<(i64, u32)>>>,
    handle: Option<thread::JoinHandle<()>>,
}

impl WeightWatch {
    pub fn start(address: SocketAddr) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let changes = Arc::new(Mutex::new(Vec::new()));
        let (s, c) = (stop.clone(), changes.clone());
        let handle = thread::spawn(move || {
            let mut last = None;
            while !s.load(Ordering::SeqCst) {
                let weight = admin(address, "get weight app/canary")
                    .ok()
                    .and_then(|a| a.split_whitespace().next().and_then(|w| w.parse::<u32>().ok()));
                if let Some(w) = weight.filter(|w| Some(*w) != last) {
                    c.lock().unwrap().push((now_ms(), w));
                    last = Some(w);
                }
                thread::sleep(Duration::from_millis(5));
            }
        });
        WeightWatch { stop, changes, handle: Some(handle) }
    }

    /// `(time, weight)` at every change seen.
    pub fn finish(mut self) -> Vec<(i64, u32)> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            h.join().unwrap();
        }
        self.changes.lock().unwrap().clone()
    }
}

/// The journal of `rollout` as JSON entries.
pub fn history(services: &Services, rollout: &str) -> Vec<serde_json::Value> {
    let out = upshift_in(services.dir.path()).args(["history", rollout, "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}
