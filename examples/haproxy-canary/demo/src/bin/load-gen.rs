//! `load-gen`: steady HTTP/1.1 load over keep-alive connections, tallied per report period by
//! status class and by the version that answered.

use std::collections::BTreeMap;
use std::io::{self, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use upshift_demo::flags::Flags;
use upshift_demo::head::{Head, read_head};

const USAGE: &str = "\
load-gen: steady HTTP/1.1 load through keep-alive connections, reported per period.

Usage: load-gen --url http://HOST:PORT/PATH [options]

Each connection sends `GET PATH` at an even pace and reconnects when the connection breaks.
Every period prints one line with the counts seen in that period:
  load-gen t=SECS sent=N 2xx=N 5xx=N other=N errors=N versions=v1:N,v2:N
`sent` is the number of attempts: 2xx + 5xx + other + errors. `errors` are failures to connect,
send or read an answer; `versions` counts the X-Version header of the answers. When the duration
is reached a final `load-gen total t=SECS ...` line sums the whole run.

Options:
  --url URL                 plain http:// URL to request (required)
  --rps N                   requests per second over all connections [default: 200]
  --connections N           keep-alive connections, each its own thread [default: 4]
  --duration-seconds N      stop after N seconds [default: run until killed]
  --report-seconds N        print a line every N seconds [default: 1]
  -h, --help                print this help

Exit status: 0 when the duration is reached or after --help, 1 if threads cannot start,
2 for bad flags.";

const DEFAULT_RPS: f64 = 200.0;
const DEFAULT_CONNECTIONS: u32 = 4;
const DEFAULT_REPORT_SECONDS: u64 = 1;
const DEFAULT_HTTP_PORT: u16 = 80;

/// Connect, read and write timeout: an answer slower than this counts as an error.
const IO_TIMEOUT: Duration = Duration::from_secs(2);

/// How often a pacing sleep wakes up to notice that the run is over.
const STOP_POLL: Duration = Duration::from_millis(50);

/// Where the requests go.
#[derive(Debug, PartialEq)]
struct Target {
    /// Host to connect to, without the brackets of an IPv6 literal.
    host: String,
    port: u16,
    /// `host[:port]` as written in the URL, for the `Host` header.
    authority: String,
    /// Path and query, starting with `/`.
    path: String,
}

#[derive(Debug, PartialEq)]
struct Config {
    target: Target,
    rps: f64,
    connections: u32,
    duration: Option<Duration>,
    report: Duration,
}

impl Config {
    /// Time between two requests on one connection.
    fn interval(&self) -> Duration {
        Duration::from_secs_f64(f64::from(self.connections) / self.rps)
    }
}

#[derive(Debug, PartialEq)]
enum Command {
    Run(Config),
    Help,
}

fn main() -> ExitCode {
    let parsed = parse_args(std::env::args().skip(1)).map(|c| match c {
        Command::Run(config) => Some(config),
        Command::Help => None,
    });
    upshift_demo::flags::main_with("load-gen", USAGE, parsed, run)
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut flags = Flags::new(args);
    let mut url = None;
    let mut rps = DEFAULT_RPS;
    let mut connections = DEFAULT_CONNECTIONS;
    let mut duration_seconds = None;
    let mut report_seconds = DEFAULT_REPORT_SECONDS;
    while let Some(flag) = flags.next_flag()? {
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--url" => {
                let raw = flags.value()?;
                url = Some(parse_url(&raw).map_err(|why| format!("`--url` {why}"))?);
            }
            "--rps" => {
                rps = positive(&mut flags, "a positive number of requests per second")?;
                if !rps.is_finite() {
                    return Err(flags.invalid("a positive number of requests per second", &rps.to_string()));
                }
            }
            "--connections" => connections = positive(&mut flags, "a whole number of connections, at least 1")?,
            "--duration-seconds" => {
                duration_seconds = Some(positive(&mut flags, "a whole number of seconds, at least 1")?)
            }
            "--report-seconds" => report_seconds = positive(&mut flags, "a whole number of seconds, at least 1")?,
            _ => return Err(flags.unknown()),
        }
    }
    let target = url.ok_or("`--url` is required, e.g. `--url http://127.0.0.1:8080/`")?;
    let config = Config {
        target,
        rps,
        connections,
        duration: duration_seconds.map(Duration::from_secs),
        report: Duration::from_secs(report_seconds),
    };
    if Duration::try_from_secs_f64(f64::from(config.connections) / config.rps).is_err() {
        return Err(format!("`--rps` {rps} is too small to pace {connections} connections"));
    }
    Ok(Command::Run(config))
}

/// The current flag's value, which must parse and be greater than zero.
fn positive<T, I>(flags: &mut Flags<I>, expected: &str) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + Default,
    I: Iterator<Item = String>,
{
    let raw = flags.value()?;
    match raw.parse::<T>() {
        Ok(value) if value > T::default() => Ok(value),
        _ => Err(flags.invalid(expected, &raw)),
    }
}

/// Splits `http://host[:port][/path]` by hand; other schemes, user info and empty hosts are refused.
fn parse_url(url: &str) -> Result<Target, String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| format!("must start with http:// (got `{url}`)"))?;
    let rest = rest.split('#').next().unwrap_or_default();
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], rest[i..].to_owned()),
        None => (rest, "/".to_owned()),
    };
    let path = if path.starts_with('?') { format!("/{path}") } else { path };
    if authority.contains('@') {
        return Err(format!("must not carry user info (got `{url}`)"));
    }
    let (host, port) = split_authority(authority).ok_or_else(|| format!("has no valid host:port (got `{url}`)"))?;
    Ok(Target { host: host.to_owned(), port, authority: authority.to_owned(), path })
}

/// `host`, `host:port`, `[v6]` or `[v6]:port` into host and port.
fn split_authority(authority: &str) -> Option<(&str, u16)> {
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']')?;
        (host, if after.is_empty() { None } else { Some(after.strip_prefix(':')?) })
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(port) => port.parse().ok().filter(|&p| p != 0)?,
        None => DEFAULT_HTTP_PORT,
    };
    (!host.is_empty()).then_some((host, port))
}

/// How one request attempt ended.
#[derive(Debug, PartialEq)]
enum Outcome {
    Answered { status: u16, version: Option<String> },
    Failed(String),
}

/// Counts for one report period, or for the whole run.
#[derive(Debug, Default, PartialEq)]
struct Tally {
    sent: u64,
    success: u64,
    server_error: u64,
    other: u64,
    errors: u64,
    versions: BTreeMap<String, u64>,
    /// The latest error's cause, shown once per period on stderr.
    last_error: Option<String>,
}

impl Tally {
    fn record(&mut self, outcome: Outcome) {
        self.sent += 1;
        match outcome {
            Outcome::Answered { status, version } => {
                match status {
                    200..=299 => self.success += 1,
                    500..=599 => self.server_error += 1,
                    _ => self.other += 1,
                }
                if let Some(version) = version {
                    *self.versions.entry(version).or_default() += 1;
                }
            }
            Outcome::Failed(why) => {
                self.errors += 1;
                self.last_error = Some(why);
            }
        }
    }

    fn add(&mut self, period: &Tally) {
        self.sent += period.sent;
        self.success += period.success;
        self.server_error += period.server_error;
        self.other += period.other;
        self.errors += period.errors;
        for (version, count) in &period.versions {
            *self.versions.entry(version.clone()).or_default() += count;
        }
    }

    /// The report line; `label` is `t=3` or `total t=3`.
    fn line(&self, label: &str) -> String {
        let versions: Vec<String> = self.versions.iter().map(|(v, n)| format!("{v}:{n}")).collect();
        format!(
            "load-gen {label} sent={} 2xx={} 5xx={} other={} errors={} versions={}",
            self.sent,
            self.success,
            self.server_error,
            self.other,
            self.errors,
            versions.join(",")
        )
    }
}

/// What the run loop needs from a response head.
#[derive(Debug, PartialEq)]
struct ResponseHead {
    status: u16,
    version: Option<String>,
    /// `None` when the body runs until the server closes the connection.
    body_len: Option<u64>,
    keep_alive: bool,
}

fn parse_response_head(head: &Head) -> Result<ResponseHead, String> {
    let mut parts = head.start_line.splitn(3, ' ');
    let (Some(protocol), Some(code)) = (parts.next(), parts.next()) else {
        return Err(format!("bad status line `{}`", head.start_line));
    };
    let status = match code.parse::<u16>() {
        Ok(status) if protocol.starts_with("HTTP/1.") && (100..=599).contains(&status) => status,
        _ => return Err(format!("bad status line `{}`", head.start_line)),
    };
    let keep_alive = match protocol {
        "HTTP/1.0" => head.has_token("connection", "keep-alive"),
        _ => !head.has_token("connection", "close"),
    };
    // A chunked body has no length we can skip without decoding it; the connection is dropped instead.
    let chunked = head.value("transfer-encoding").is_some();
    let body_len = if matches!(status, 100..=199 | 204 | 304) {
        Some(0)
    } else if chunked {
        None
    } else {
        head.content_length().map_err(|e| e.to_string())?
    };
    Ok(ResponseHead {
        status,
        version: head.value("x-version").map(str::to_owned),
        body_len,
        keep_alive: keep_alive && body_len.is_some(),
    })
}

/// One keep-alive connection to the target.
struct Connection {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Connection {
    fn open(target: &Target) -> io::Result<Self> {
        let mut last_error = io::Error::new(io::ErrorKind::NotFound, format!("{} resolves to nothing", target.host));
        for addr in (target.host.as_str(), target.port).to_socket_addrs()? {
            match TcpStream::connect_timeout(&addr, IO_TIMEOUT) {
                Ok(stream) => {
                    stream.set_nodelay(true)?;
                    stream.set_read_timeout(Some(IO_TIMEOUT))?;
                    stream.set_write_timeout(Some(IO_TIMEOUT))?;
                    return Ok(Self { writer: stream.try_clone()?, reader: BufReader::new(stream) });
                }
                Err(e) => last_error = io::Error::new(e.kind(), format!("cannot connect to {addr}: {e}")),
            }
        }
        Err(last_error)
    }

    /// Sends one request and reads the whole answer.
    fn exchange(&mut self, request: &[u8]) -> Result<ResponseHead, String> {
        self.writer.write_all(request).map_err(|e| format!("send failed: {e}"))?;
        let bytes = match read_head(&mut self.reader) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Err("server closed the connection".into()),
            Err(e) => return Err(format!("reading the answer failed: {e}")),
        };
        let head = Head::parse(&bytes).map_err(|e| e.to_string()).and_then(|h| parse_response_head(&h))?;
        let read = match head.body_len {
            Some(len) => io::copy(&mut (&mut self.reader).take(len), &mut io::sink()).map(|n| n == len),
            None => io::copy(&mut self.reader, &mut io::sink()).map(|_| true),
        };
        match read {
            Ok(true) => Ok(head),
            Ok(false) => Err("server closed the connection inside a body".into()),
            Err(e) => Err(format!("reading the body failed: {e}")),
        }
    }
}

/// One paced connection thread.
struct Worker {
    target: Arc<Target>,
    request: Vec<u8>,
    interval: Duration,
    first_at: Instant,
    tally: Arc<Mutex<Tally>>,
    stop: Arc<AtomicBool>,
}

impl Worker {
    fn run(self) {
        let mut connection = None;
        let mut due = self.first_at;
        while sleep_until(due, &self.stop) {
            due = next_due(due, self.interval, Instant::now());
            let outcome = self.attempt(&mut connection);
            lock(&self.tally).record(outcome);
        }
    }

    /// One request, opening a connection first if there is none; a broken one is dropped.
    fn attempt(&self, slot: &mut Option<Connection>) -> Outcome {
        let connection = match slot {
            Some(connection) => connection,
            None => match Connection::open(&self.target) {
                Ok(connection) => slot.insert(connection),
                Err(e) => return Outcome::Failed(e.to_string()),
            },
        };
        match connection.exchange(&self.request) {
            Ok(head) => {
                if !head.keep_alive {
                    *slot = None;
                }
                Outcome::Answered { status: head.status, version: head.version }
            }
            Err(why) => {
                *slot = None;
                Outcome::Failed(why)
            }
        }
    }
}

/// When the request after the one due at `due` is due. A connection that fell more than one
/// interval behind (a slow answer, a timeout) restarts its pace from `now` rather than bursting to
/// catch up, so the load stays steady and a slow server shows as fewer `sent`.
fn next_due(due: Instant, interval: Duration, now: Instant) -> Instant {
    let next = due + interval;
    if now > next + interval { now } else { next }
}

/// Sleeps until `deadline`; false if the run was stopped first.
fn sleep_until(deadline: Instant, stop: &AtomicBool) -> bool {
    loop {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        thread::sleep(left.min(STOP_POLL));
    }
}

fn lock(tally: &Mutex<Tally>) -> MutexGuard<'_, Tally> {
    // A worker that panicked mid-record leaves at worst one count off; keep reporting.
    tally.lock().unwrap_or_else(PoisonError::into_inner)
}

fn request_bytes(target: &Target) -> Vec<u8> {
    format!("GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: upshift-load-gen\r\n\r\n", target.path, target.authority)
        .into_bytes()
}

fn run(config: Config) -> io::Result<()> {
    let start = Instant::now();
    let interval = config.interval();
    let target = Arc::new(config.target);
    let tally = Arc::new(Mutex::new(Tally::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for i in 0..config.connections {
        // Staggered starts spread the connections' requests evenly over each interval.
        let worker = Worker {
            target: Arc::clone(&target),
            request: request_bytes(&target),
            interval,
            first_at: start + interval.mul_f64(f64::from(i) / f64::from(config.connections)),
            tally: Arc::clone(&tally),
            stop: Arc::clone(&stop),
        };
        match thread::Builder::new().name(format!("connection-{i}")).spawn(move || worker.run()) {
            Ok(handle) => workers.push(handle),
            Err(e) => {
                stop.store(true, Ordering::Relaxed);
                return Err(io::Error::new(e.kind(), format!("cannot start connection thread: {e}")));
            }
        }
    }

    let deadline = config.duration.map(|d| start + d);
    let mut total = Tally::default();
    let mut next_report = start + config.report;
    while deadline.is_none_or(|deadline| next_report < deadline) {
        thread::sleep(next_report.saturating_duration_since(Instant::now()));
        report(&tally, &mut total, &format!("t={}", (next_report - start).as_secs()))?;
        next_report += config.report;
    }
    // The loop above only ends when there is a deadline.
    let Some(deadline) = deadline else { return Ok(()) };
    thread::sleep(deadline.saturating_duration_since(Instant::now()));
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        // A worker can only panic on a bug; its counts so far are already in the tally.
        let _ = worker.join();
    }
    let seconds = (deadline - start).as_secs();
    report(&tally, &mut total, &format!("t={seconds}"))?;
    print_line(&total.line(&format!("total t={seconds}")))
}

/// Prints the period's line, folds it into the run's total and starts a new period.
fn report(tally: &Mutex<Tally>, total: &mut Tally, label: &str) -> io::Result<()> {
    let period = std::mem::take(&mut *lock(tally));
    if let Some(why) = &period.last_error {
        eprintln!("load-gen: {} errors, last: {why}", period.errors);
    }
    total.add(&period);
    print_line(&period.line(label))
}

fn print_line(line: &str) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|a| a.to_string()).collect()
    }

    fn config(list: &[&str]) -> Config {
        match parse_args(args(list)) {
            Ok(Command::Run(config)) => config,
            other => panic!("expected a config, got {other:?}"),
        }
    }

    fn response(head: &str) -> Result<ResponseHead, String> {
        parse_response_head(&Head::parse(head.as_bytes()).unwrap())
    }

    #[test]
    fn only_url_is_required_and_the_rest_defaults() {
        let config = config(&["--url", "http://127.0.0.1:18081/"]);
        assert_eq!(config.rps, DEFAULT_RPS);
        assert_eq!(config.connections, DEFAULT_CONNECTIONS);
        assert_eq!(config.duration, None);
        assert_eq!(config.report, Duration::from_secs(DEFAULT_REPORT_SECONDS));
    }

    #[test]
    fn every_flag_is_read() {
        let config = config(&[
            "--url=http://h:1/x",
            "--rps",
            "50",
            "--connections",
            "2",
            "--duration-seconds",
            "3",
            "--report-seconds",
            "2",
        ]);
        assert_eq!((config.rps, config.connections), (50.0, 2));
        assert_eq!(config.duration, Some(Duration::from_secs(3)));
        assert_eq!(config.report, Duration::from_secs(2));
        assert_eq!(config.interval(), Duration::from_millis(40));
    }

    #[test]
    fn unknown_flag_is_named() {
        let error = parse_args(args(&["--url", "http://h/", "--threads", "8"])).unwrap_err();
        assert_eq!(error, "unknown flag `--threads` (see --help)");
    }

    #[test]
    fn zero_and_negative_counts_are_rejected() {
        for (flag, value) in [("--rps", "0"), ("--rps", "-5"), ("--rps", "inf"), ("--connections", "0")] {
            let error = parse_args(args(&["--url", "http://h/", flag, value])).unwrap_err();
            assert!(error.contains(flag), "{flag} {value}: {error}");
        }
    }

    #[test]
    fn missing_url_is_an_error() {
        assert!(parse_args(args(&["--rps", "10"])).unwrap_err().contains("`--url` is required"));
    }

    #[test]
    fn url_with_port_and_path_is_split() {
        let target = parse_url("http://127.0.0.1:18081/api/v1?x=1#frag").unwrap();
        assert_eq!(target.host, "127.0.0.1");
        assert_eq!(target.port, 18081);
        assert_eq!(target.authority, "127.0.0.1:18081");
        assert_eq!(target.path, "/api/v1?x=1");
    }

    #[test]
    fn url_without_port_or_path_defaults_to_80_and_root() {
        let target = parse_url("http://example.test").unwrap();
        assert_eq!((target.port, target.path.as_str()), (80, "/"));
        assert_eq!(parse_url("http://h:8080?q").unwrap().path, "/?q");
    }

    #[test]
    fn ipv6_literal_keeps_brackets_only_in_the_host_header() {
        let target = parse_url("http://[::1]:8080/").unwrap();
        assert_eq!((target.host.as_str(), target.port, target.authority.as_str()), ("::1", 8080, "[::1]:8080"));
    }

    #[test]
    fn unsupported_urls_are_rejected() {
        for bad in ["https://h/", "h:80/", "http://", "http://:80/", "http://h:0/", "http://h:99999/", "http://u@h/"] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn response_head_gives_status_version_and_length() {
        let head = response("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 14\r\nX-Version: v2\r\n\r\n");
        assert_eq!(
            head.unwrap(),
            ResponseHead { status: 500, version: Some("v2".into()), body_len: Some(14), keep_alive: true }
        );
    }

    #[test]
    fn connection_close_ends_keep_alive() {
        assert!(!response("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").unwrap().keep_alive);
        assert!(!response("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").unwrap().keep_alive);
    }

    #[test]
    fn body_without_length_runs_to_close() {
        let head = response("HTTP/1.1 200 OK\r\n\r\n").unwrap();
        assert_eq!((head.body_len, head.keep_alive), (None, false));
        let chunked = response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap();
        assert_eq!((chunked.body_len, chunked.keep_alive), (None, false));
    }

    #[test]
    fn no_content_responses_have_no_body() {
        assert_eq!(response("HTTP/1.1 204 No Content\r\n\r\n").unwrap().body_len, Some(0));
    }

    #[test]
    fn bad_status_lines_are_rejected() {
        for bad in ["HTTP/1.1\r\n\r\n", "HTTP/1.1 abc OK\r\n\r\n", "HTTP/2 200 OK\r\n\r\n", "HTTP/1.1 999 X\r\n\r\n"] {
            assert!(response(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tally_line_lists_counts_and_versions_in_order() {
        let mut tally = Tally::default();
        tally.record(Outcome::Answered { status: 200, version: Some("v2".into()) });
        tally.record(Outcome::Answered { status: 500, version: Some("v1".into()) });
        tally.record(Outcome::Answered { status: 404, version: None });
        tally.record(Outcome::Failed("refused".into()));
        assert_eq!(tally.line("t=1"), "load-gen t=1 sent=4 2xx=1 5xx=1 other=1 errors=1 versions=v1:1,v2:1");
    }

    #[test]
    fn totals_add_up_periods() {
        let mut period = Tally::default();
        period.record(Outcome::Answered { status: 200, version: Some("v1".into()) });
        let mut total = Tally::default();
        total.add(&period);
        total.add(&period);
        assert_eq!(total.line("total t=2"), "load-gen total t=2 sent=2 2xx=2 5xx=0 other=0 errors=0 versions=v1:2");
    }

    #[test]
    fn pacing_keeps_step_when_on_time() {
        let start = Instant::now();
        let interval = Duration::from_millis(20);
        assert_eq!(next_due(start, interval, start + Duration::from_millis(5)), start + interval);
    }

    #[test]
    fn pacing_restarts_instead_of_bursting_after_a_stall() {
        let start = Instant::now();
        let late = start + Duration::from_secs(2);
        assert_eq!(next_due(start, Duration::from_millis(20), late), late);
    }
}
