//! A real PostgreSQL cluster for the tests of one test binary: `initdb` into a temporary folder and
//! `postgres` listening on 127.0.0.1 and a free port (and a Unix socket in that folder), run as the
//! `postgres` user when the tests run as root (CI does; PostgreSQL refuses root). Over TCP every
//! role but the superuser `postgres` logs in with a password (SCRAM), as a real server would ask;
//! through the Unix socket every role is trusted.
//!
//! The cluster lives as long as the test process: a static is never dropped, so a watchdog shell
//! started with the server holds the read end of a pipe whose write end only this process holds;
//! when the process ends, for any reason, the pipe closes and the watchdog stops the server (fast
//! shutdown) and deletes the folder. A [`Cluster`] a test owns is stopped the same way on drop.
//! PostgreSQL 15 comes from Debian's `postgresql` package (scripts/setup-services.sh installs it).

#![allow(dead_code)]

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// The superuser `initdb` creates, trusted from 127.0.0.1 and the cluster's socket.
pub const SUPERUSER: &str = "postgres";

/// A running cluster.
pub struct Cluster {
    pub port: u16,
    /// The temporary folder: the data directory, the server's log and its Unix socket.
    pub dir: PathBuf,
    bin: PathBuf,
    /// The postmaster, reaped once stopped.
    server: Option<Child>,
    /// Closing it (on drop, or when the process ends) stops the server.
    watchdog: Option<(Child, ChildStdin)>,
}

/// The cluster of this test binary, started on first use.
pub fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(Cluster::start)
}

/// Serialises the tests of a binary that share fixed database names on the cluster.
pub fn exclusive() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A name no other test of this process has had: `prefix_N`.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    format!("{prefix}_{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The folder of PostgreSQL's server programs: where `initdb` on the PATH lives, else the newest
/// `/usr/lib/postgresql/*/bin`.
fn server_bin() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("initdb"))
        .find(|p| p.exists());
    if let Some(initdb) = on_path {
        let real = std::fs::canonicalize(&initdb).unwrap_or(initdb);
        return real.parent().expect("initdb has a folder").to_path_buf();
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).filter(|p| p.join("initdb").exists()).collect())
        .unwrap_or_default();
    versions.sort_by_key(|p| {
        p.parent().and_then(|v| v.file_name()).and_then(|v| v.to_str()).and_then(|v| v.parse::<u32>().ok())
    });
    versions.pop().expect("PostgreSQL's initdb is installed (Debian's postgresql package; scripts/setup-services.sh)")
}

/// A new, empty database on this binary's cluster for an upshift store, named `prefix_N`: its
/// `postgres://` URL (the superuser, trusted over TCP, so no password).
pub fn store_url(prefix: &str) -> String {
    let c = cluster();
    let name = unique(prefix);
    c.admin("postgres").batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
    c.url(SUPERUSER, &name)
}

/// The uid and gid of the `postgres` user, when this process runs as root.
fn run_as() -> Option<(u32, u32)> {
    let me = std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m)).ok()?;
    if me != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").expect("read /etc/passwd");
    let line = passwd
        .lines()
        .find(|l| l.starts_with("postgres:"))
        .expect("running as root: the postgres user must exist to run PostgreSQL (apt-get install postgresql)");
    let fields: Vec<&str> = line.split(':').collect();
    Some((fields[2].parse().unwrap(), fields[3].parse().unwrap()))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Cluster {
    /// Creates and starts a cluster of its own (`fsync=off`: tests need no durability from it).
    pub fn start() -> Cluster {
        Cluster::start_with(false)
    }

    /// [`Cluster::start`], flushing every commit to disk when `fsync` (a benchmark's durable figures).
    pub fn start_with(fsync: bool) -> Cluster {
        let bin = server_bin();
        let dir = tempfile::Builder::new().prefix("upshift-pg-").tempdir().unwrap().keep();
        let owner = run_as();
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).unwrap();
        }
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        let data = dir.join("data");
        let out = as_owner(Command::new(bin.join("initdb")), owner)
            .arg("-D")
            .arg(&data)
            .args(["-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"])
            .env("LC_ALL", "C")
            .output()
            .expect("run initdb");
        assert!(out.status.success(), "initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        let hba = format!(
            "local all all trust\nhost all {SUPERUSER} 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n"
        );
        std::fs::write(data.join("pg_hba.conf"), hba).unwrap();
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port();
            let log = std::fs::File::create(dir.join("server.log")).unwrap();
            if let Some((uid, gid)) = owner {
                std::os::unix::fs::chown(dir.join("server.log"), Some(uid), Some(gid)).unwrap();
            }
            let server = as_owner(Command::new(bin.join("postgres")), owner)
                .arg("-D")
                .arg(&data)
                .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1", "-c"])
                .arg(if fsync { "fsync=on" } else { "fsync=off" })
                .args(["-c", "max_connections=200", "-c", "shared_buffers=32MB", "-c", "log_min_messages=warning"])
                .arg("-k")
                .arg(&dir)
                .env("LC_ALL", "C")
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("start postgres");
            let watchdog = watchdog(server.id(), &dir);
            let mut cluster =
                Cluster { port, dir: dir.clone(), bin: bin.clone(), server: Some(server), watchdog: Some(watchdog) };
            if cluster.wait_ready(Duration::from_secs(60)) {
                return cluster;
            }
            last = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
            cluster.abandon();
        }
        panic!("PostgreSQL did not start:\n{last}");
    }

    fn wait_ready(&self, limit: Duration) -> bool {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if self.try_admin("postgres").is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    fn try_admin(&self, database: &str) -> Result<postgres::Client, postgres::Error> {
        postgres::Config::new()
            .host("127.0.0.1")
            .port(self.port)
            .user(SUPERUSER)
            .dbname(database)
            .connect_timeout(Duration::from_secs(5))
            .connect(postgres::NoTls)
    }

    /// A superuser session on `database`.
    pub fn admin(&self, database: &str) -> postgres::Client {
        self.try_admin(database).unwrap_or_else(|e| panic!("connect to {database} as {SUPERUSER}: {e}"))
    }

    /// A session as `role` (with `password`) on `database`.
    pub fn session(&self, role: &str, password: &str, database: &str) -> Result<postgres::Client, postgres::Error> {
        postgres::Config::new()
            .host("127.0.0.1")
            .port(self.port)
            .user(role)
            .password(password)
            .dbname(database)
            .connect(postgres::NoTls)
    }

    /// `postgresql://ROLE@127.0.0.1:PORT/` plus `path` (a database, a query): over TCP, where every
    /// role but the superuser gives its password.
    pub fn url(&self, role: &str, path: &str) -> String {
        format!("postgresql://{role}@127.0.0.1:{}/{path}", self.port)
    }

    /// The same through the cluster's Unix socket, where every role is trusted without a password.
    pub fn socket_url(&self, role: &str, path: &str) -> String {
        let dir = self.dir.display().to_string().replace('/', "%2F");
        format!("postgresql://{role}@{dir}:{}/{path}", self.port)
    }

    /// Runs `psql` against `database` as the superuser with `args` (e.g. `-f FILE`, `-v name=value`),
    /// stopping at the first error; returns what it printed.
    pub fn psql(&self, database: &str, args: &[&str]) -> String {
        let psql = [self.bin.join("psql"), PathBuf::from("/usr/bin/psql")]
            .into_iter()
            .find(|p| p.exists())
            .expect("psql is installed with PostgreSQL");
        let out = Command::new(psql)
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", SUPERUSER, "-d", database])
            .args(args)
            .output()
            .expect("run psql");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "psql {args:?} failed: {text}");
        text
    }

    /// Creates login role `name` with `password` and nothing else, and databases `databases` it may
    /// connect to and create tables in (schema `public`), and nothing else: the least a target needs.
    pub fn confined(&self, name: &str, password: &str, databases: &[&str]) {
        let mut admin = self.admin("postgres");
        admin.batch_execute(&format!("CREATE ROLE {name} LOGIN PASSWORD '{password}'")).unwrap();
        for db in databases {
            admin.batch_execute(&format!("CREATE DATABASE {db}")).unwrap();
            admin.batch_execute(&format!("GRANT CONNECT ON DATABASE {db} TO {name}")).unwrap();
            self.admin(db).batch_execute(&format!("GRANT USAGE, CREATE ON SCHEMA public TO {name}")).unwrap();
        }
    }

    /// Turns TLS on with a certificate for 127.0.0.1 that nobody signed (`openssl`, self-signed): a
    /// client that verifies certificates refuses it.
    pub fn self_signed_tls(&self) {
        let data = self.dir.join("data");
        let (key, crt) = (data.join("server.key"), data.join("server.crt"));
        let out = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&crt)
            .output()
            .expect("run openssl");
        assert!(out.status.success(), "openssl: {}", String::from_utf8_lossy(&out.stderr));
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        if let Some((uid, gid)) = run_as() {
            for f in [&key, &crt] {
                std::os::unix::fs::chown(f, Some(uid), Some(gid)).unwrap();
            }
        }
        let mut admin = self.admin("postgres");
        admin.batch_execute("ALTER SYSTEM SET ssl = on").unwrap();
        admin.batch_execute("SELECT pg_reload_conf()").unwrap();
        let until = Instant::now() + Duration::from_secs(30);
        while self.admin("postgres").query_one("SHOW ssl", &[]).unwrap().get::<_, String>(0) != "on" {
            assert!(Instant::now() < until, "the server did not turn TLS on");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops a server that did not start (to try another port), keeping the folder.
    fn abandon(&mut self) {
        if let Some((mut child, mut stdin)) = self.watchdog.take() {
            let _ = stdin.write_all(b"keep\n");
            drop(stdin);
            let _ = child.wait();
        }
        if let Some(mut server) = self.server.take() {
            let _ = server.kill();
            let _ = server.wait();
        }
    }

    /// Stops the server (fast shutdown), waits until it is gone and deletes the folder.
    fn stop(&mut self) {
        if let Some((mut child, stdin)) = self.watchdog.take() {
            drop(stdin);
            let _ = child.wait();
        }
        if let Some(mut server) = self.server.take() {
            let _ = server.wait();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A command run as `owner` (uid, gid), when set.
fn as_owner(mut cmd: Command, owner: Option<(u32, u32)>) -> Command {
    if let Some((uid, gid)) = owner {
        cmd.uid(uid).gid(gid);
        cmd.env("HOME", "/tmp");
    }
    cmd
}

/// Starts the shell that stops server `pid` and deletes `dir` once its stdin closes (unless it was
/// told `keep` first).
fn watchdog(pid: u32, dir: &Path) -> (Child, ChildStdin) {
    let script = r#"read line; [ "$line" = keep ] && exit 0; kill -INT "$1" 2>/dev/null;
for _ in $(seq 1 300); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
kill -KILL "$1" 2>/dev/null; rm -rf "$2""#;
    let mut child = Command::new("sh")
        .args(["-c", script, "watchdog"])
        .arg(pid.to_string())
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the cluster's watchdog");
    let stdin = child.stdin.take().expect("the watchdog's stdin");
    (child, stdin)
}
