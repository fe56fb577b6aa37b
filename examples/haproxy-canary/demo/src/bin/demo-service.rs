//! `demo-service`: the app that plays "v1" or "v2" behind HAProxy in the canary example, failing a
//! deterministic share of its requests so the canary analysis has something to see.

use std::io::{self, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use upshift_demo::flags::Flags;
use upshift_demo::head::{Head, HeadError, read_head};

const USAGE: &str = "\
demo-service: a tiny HTTP/1.1 app that plays one version of a service in the HAProxy canary demo.

Usage: demo-service --listen ADDR [options]

Every path answers `200 OK` with `hello from VERSION`, except a deterministic share of requests
answered `500 Internal Server Error` with `error from VERSION`. /healthz always answers 200 `ok`.
Connections are kept alive until the client sends `Connection: close`.

Options:
  --listen ADDR      address to listen on, e.g. 127.0.0.1:8081 (required; port 0 picks one)
  --version TEXT     version named in bodies and the X-Version header [default: v1]
  --error-rate F     fraction of requests answered 500, from 0.0 to 1.0 [default: 0]
  --latency-ms N     extra delay before every answer except /healthz [default: 0]
  --seed N           where in the error schedule to start, so instances fail at different requests
  -h, --help         print this help

Exit status: 0 after --help, 1 if the address cannot be used, 2 for bad flags.";

const DEFAULT_VERSION: &str = "v1";
const DEFAULT_ERROR_RATE: f64 = 0.0;
const DEFAULT_LATENCY_MS: u64 = 0;

/// Health checks must reflect liveness, never the injected faults: no error, no extra latency.
const HEALTH_PATH: &str = "/healthz";

/// An idle connection is dropped after this long, so clients that vanish do not hold threads for
/// ever. It is longer than HAProxy's usual keep-alive timeouts, so the proxy closes first.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Error rates are kept in parts per million so the schedule is exact integer arithmetic; finer
/// rates are rounded.
const ERROR_RATE_SCALE: u64 = 1_000_000;

/// A pause after a failed `accept`, so running out of file descriptors does not spin a core.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);

#[derive(Debug, PartialEq)]
struct Config {
    listen: SocketAddr,
    version: String,
    error_rate: f64,
    latency: Duration,
    seed: Option<u64>,
}

#[derive(Debug, PartialEq)]
enum Command {
    Serve(Config),
    Help,
}

fn main() -> ExitCode {
    let parsed = parse_args(std::env::args().skip(1)).map(|c| match c {
        Command::Serve(config) => Some(config),
        Command::Help => None,
    });
    upshift_demo::flags::main_with("demo-service", USAGE, parsed, serve)
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut flags = Flags::new(args);
    let mut listen = None;
    let mut version = DEFAULT_VERSION.to_owned();
    let mut error_rate = DEFAULT_ERROR_RATE;
    let mut latency_ms = DEFAULT_LATENCY_MS;
    let mut seed = None;
    while let Some(flag) = flags.next_flag()? {
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--listen" => listen = Some(flags.parsed("an address like 127.0.0.1:8081")?),
            "--version" => version = flags.value()?,
            "--error-rate" => {
                const EXPECTED: &str = "a fraction from 0.0 to 1.0";
                let raw = flags.value()?;
                error_rate = raw.parse().map_err(|_| flags.invalid(EXPECTED, &raw))?;
                if !(0.0..=1.0).contains(&error_rate) {
                    return Err(flags.invalid(EXPECTED, &raw));
                }
            }
            "--latency-ms" => latency_ms = flags.parsed("a whole number of milliseconds")?,
            "--seed" => seed = Some(flags.parsed("a whole number")?),
            _ => return Err(flags.unknown()),
        }
    }
    let listen = listen.ok_or("`--listen` is required, e.g. `--listen 127.0.0.1:8081`")?;
    Ok(Command::Serve(Config { listen, version, error_rate, latency: Duration::from_millis(latency_ms), seed }))
}

fn serve(config: Config) -> io::Result<()> {
    let listener = TcpListener::bind(config.listen)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {}: {e}", config.listen)))?;
    let addr = listener.local_addr()?;
    let service = Arc::new(Service::new(&config));
    let mut stdout = io::stdout();
    writeln!(stdout, "demo-service {} listening on {addr}", config.version)?;
    stdout.flush()?;
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => spawn_connection(&service, stream),
            Err(e) => {
                eprintln!("demo-service: accept failed: {e}");
                thread::sleep(ACCEPT_BACKOFF);
            }
        }
    }
    Ok(())
}

fn spawn_connection(service: &Arc<Service>, stream: TcpStream) {
    let service = Arc::clone(service);
    let spawned = thread::Builder::new().name("connection".into()).spawn(move || {
        // A broken connection ends only its own thread; there is nobody to report it to.
        let _ = service.serve_connection(stream);
    });
    if let Err(e) = spawned {
        eprintln!("demo-service: cannot start a connection thread: {e}");
    }
}

/// Decides which requests fail: request `k` (counting from 0) fails when
/// `floor((k+1)·rate) > floor(k·rate)`, so any `n` consecutive requests hold `floor(n·rate)` or
/// `ceil(n·rate)` failures, spread evenly.
struct ErrorSchedule {
    rate_ppm: u64,
    next_request: AtomicU64,
}

impl ErrorSchedule {
    fn new(rate: f64, seed: Option<u64>) -> Self {
        let rate_ppm = (rate.clamp(0.0, 1.0) * ERROR_RATE_SCALE as f64).round() as u64;
        Self { rate_ppm, next_request: AtomicU64::new(seed.unwrap_or(0)) }
    }

    /// Takes the next request's place in the schedule; shared by every connection.
    fn next_fails(&self) -> bool {
        request_fails(self.next_request.fetch_add(1, Ordering::Relaxed), self.rate_ppm)
    }
}

fn request_fails(k: u64, rate_ppm: u64) -> bool {
    let (k, rate, scale) = (u128::from(k), u128::from(rate_ppm), u128::from(ERROR_RATE_SCALE));
    (k + 1) * rate / scale > k * rate / scale
}

/// What the client asked for, as far as this service cares.
#[derive(Debug, PartialEq)]
struct Request {
    is_head: bool,
    /// The target without its query string.
    path: String,
    keep_alive: bool,
    body_len: u64,
}

fn parse_request(head: &Head) -> Result<Request, String> {
    let mut parts = head.start_line.split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(format!("bad request line `{}`", head.start_line));
    };
    let keep_alive = match version {
        "HTTP/1.1" => !head.has_token("connection", "close"),
        "HTTP/1.0" => head.has_token("connection", "keep-alive"),
        _ => return Err(format!("unsupported protocol `{version}`")),
    };
    if head.value("transfer-encoding").is_some() {
        return Err("request bodies with Transfer-Encoding are not supported".into());
    }
    let body_len = head.content_length().map_err(|e| e.to_string())?.unwrap_or(0);
    let path = target.split('?').next().unwrap_or_default().to_owned();
    Ok(Request { is_head: method == "HEAD", path, keep_alive, body_len })
}

/// An answer before it is framed for the wire.
#[derive(Debug, PartialEq)]
struct Reply {
    status: u16,
    reason: &'static str,
    body: String,
}

impl Reply {
    fn new(status: u16, reason: &'static str, body: impl Into<String>) -> Self {
        Self { status, reason, body: body.into() }
    }

    /// The full response in one buffer, so it leaves in one write.
    fn encode(&self, version: &str, keep_alive: bool, with_body: bool) -> Vec<u8> {
        let connection = if keep_alive { "keep-alive" } else { "close" };
        let mut bytes = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nX-Version: {version}\r\n\
             Connection: {connection}\r\n\r\n",
            self.status,
            self.reason,
            self.body.len(),
        )
        .into_bytes();
        if with_body {
            bytes.extend_from_slice(self.body.as_bytes());
        }
        bytes
    }
}

struct Service {
    version: String,
    latency: Duration,
    errors: ErrorSchedule,
}

impl Service {
    fn new(config: &Config) -> Self {
        Self {
            version: config.version.clone(),
            latency: config.latency,
            errors: ErrorSchedule::new(config.error_rate, config.seed),
        }
    }

    /// The answer for a path; counts the request in the error schedule unless it is a health check.
    fn route(&self, path: &str) -> Reply {
        if path == HEALTH_PATH {
            Reply::new(200, "OK", "ok\n")
        } else if self.errors.next_fails() {
            Reply::new(500, "Internal Server Error", format!("error from {}\n", self.version))
        } else {
            Reply::new(200, "OK", format!("hello from {}\n", self.version))
        }
    }

    /// Answers requests on one connection until the client closes it or asks to.
    fn serve_connection(&self, stream: TcpStream) -> io::Result<()> {
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
        let mut writer = stream.try_clone()?;
        let mut reader = BufReader::new(stream);
        loop {
            let request = match read_head(&mut reader) {
                Ok(None) => return Ok(()),
                Ok(Some(bytes)) => Head::parse(&bytes).map_err(|e| e.to_string()).and_then(|h| parse_request(&h)),
                Err(HeadError::TooLarge) => {
                    let reply = Reply::new(431, "Request Header Fields Too Large", "request head too large\n");
                    return writer.write_all(&reply.encode(&self.version, false, true));
                }
                Err(HeadError::Io(e)) => return Err(e),
                Err(_) => return Ok(()),
            };
            let request = match request {
                Ok(request) => request,
                Err(why) => {
                    let reply = Reply::new(400, "Bad Request", format!("{why}\n"));
                    return writer.write_all(&reply.encode(&self.version, false, true));
                }
            };
            let discarded = io::copy(&mut io::Read::take(&mut reader, request.body_len), &mut io::sink())?;
            if discarded < request.body_len {
                return Ok(());
            }
            let reply = self.route(&request.path);
            if request.path != HEALTH_PATH && !self.latency.is_zero() {
                thread::sleep(self.latency);
            }
            writer.write_all(&reply.encode(&self.version, request.keep_alive, !request.is_head))?;
            if !request.keep_alive {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|a| a.to_string()).collect()
    }

    fn config(list: &[&str]) -> Config {
        match parse_args(args(list)) {
            Ok(Command::Serve(config)) => config,
            other => panic!("expected a config, got {other:?}"),
        }
    }

    fn request(head: &str) -> Result<Request, String> {
        parse_request(&Head::parse(head.as_bytes()).unwrap())
    }

    #[test]
    fn only_listen_is_required_and_the_rest_defaults() {
        let config = config(&["--listen", "127.0.0.1:18081"]);
        assert_eq!(config.listen, "127.0.0.1:18081".parse().unwrap());
        assert_eq!(config.version, DEFAULT_VERSION);
        assert_eq!(config.error_rate, DEFAULT_ERROR_RATE);
        assert_eq!(config.latency, Duration::ZERO);
        assert_eq!(config.seed, None);
    }

    #[test]
    fn every_flag_is_read() {
        let config = config(&[
            "--listen=127.0.0.1:1",
            "--version",
            "v2",
            "--error-rate",
            "0.05",
            "--latency-ms",
            "5",
            "--seed",
            "7",
        ]);
        assert_eq!(config.version, "v2");
        assert_eq!(config.error_rate, 0.05);
        assert_eq!(config.latency, Duration::from_millis(5));
        assert_eq!(config.seed, Some(7));
    }

    #[test]
    fn help_wins_over_missing_listen() {
        assert_eq!(parse_args(args(&["--help"])), Ok(Command::Help));
    }

    #[test]
    fn unknown_flag_is_named() {
        let error = parse_args(args(&["--listen", "127.0.0.1:1", "--colour", "red"])).unwrap_err();
        assert_eq!(error, "unknown flag `--colour` (see --help)");
    }

    #[test]
    fn missing_listen_is_an_error() {
        assert!(parse_args(args(&[])).unwrap_err().contains("`--listen` is required"));
    }

    #[test]
    fn error_rate_outside_zero_to_one_is_rejected() {
        for bad in ["1.5", "-0.1", "NaN", "lots"] {
            let error = parse_args(args(&["--listen", "127.0.0.1:1", "--error-rate", bad])).unwrap_err();
            assert!(error.contains("`--error-rate`"), "{bad}: {error}");
        }
    }

    fn failures(rate: f64, start: u64, count: u64) -> usize {
        let schedule = ErrorSchedule::new(rate, Some(start));
        (0..count).filter(|_| schedule.next_fails()).count()
    }

    #[test]
    fn five_percent_fails_exactly_five_of_every_hundred() {
        for start in 0..1_000 {
            assert_eq!(failures(0.05, start, 100), 5, "window starting at request {start}");
        }
    }

    #[test]
    fn five_percent_failures_are_spread_one_per_twenty() {
        let failed: Vec<u64> = (0..100).filter(|&k| request_fails(k, 50_000)).collect();
        assert_eq!(failed, [19, 39, 59, 79, 99]);
    }

    #[test]
    fn zero_rate_never_fails_and_full_rate_always_fails() {
        assert_eq!(failures(0.0, 0, 10_000), 0);
        assert_eq!(failures(1.0, 0, 10_000), 10_000);
    }

    #[test]
    fn schedule_holds_at_the_end_of_the_counter() {
        assert_eq!(failures(0.5, u64::MAX - 9, 10), 5);
    }

    #[test]
    fn health_checks_never_fail_and_are_not_counted() {
        let config = config(&["--listen", "127.0.0.1:1", "--error-rate", "1", "--version", "v2"]);
        let service = Service::new(&config);
        assert_eq!(service.route(HEALTH_PATH), Reply::new(200, "OK", "ok\n"));
        assert_eq!(service.errors.next_request.load(Ordering::Relaxed), 0);
        assert_eq!(service.route("/anything"), Reply::new(500, "Internal Server Error", "error from v2\n"));
    }

    #[test]
    fn http11_keeps_alive_unless_told_to_close() {
        assert!(request("GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap().keep_alive);
        assert!(!request("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").unwrap().keep_alive);
    }

    #[test]
    fn http10_closes_unless_asked_to_keep_alive() {
        assert!(!request("GET / HTTP/1.0\r\n\r\n").unwrap().keep_alive);
        assert!(request("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").unwrap().keep_alive);
    }

    #[test]
    fn query_string_is_not_part_of_the_path() {
        assert_eq!(request("GET /healthz?full=1 HTTP/1.1\r\n\r\n").unwrap().path, HEALTH_PATH);
    }

    #[test]
    fn request_body_length_comes_from_content_length() {
        assert_eq!(request("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\n").unwrap().body_len, 3);
    }

    #[test]
    fn malformed_request_lines_are_rejected() {
        assert!(request("GET /\r\n\r\n").is_err());
        assert!(request("GET / HTTP/2\r\n\r\n").is_err());
        assert!(request("GET / HTTP/1.1 extra\r\n\r\n").is_err());
        assert!(request("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").is_err());
    }

    #[test]
    fn replies_carry_length_type_and_version() {
        let bytes = Reply::new(200, "OK", "hello from v1\n").encode("v1", true, true);
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 14\r\nX-Version: v1\r\n\
             Connection: keep-alive\r\n\r\nhello from v1\n"
        );
    }

    #[test]
    fn one_connection_serves_several_requests_until_close() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let service = Service::new(&config(&["--listen", "127.0.0.1:1", "--version", "v2"]));
        let server = thread::spawn(move || service.serve_connection(listener.accept().unwrap().0));
        let mut client = TcpStream::connect(addr).unwrap();
        client
            .write_all(b"POST /a HTTP/1.1\r\nContent-Length: 4\r\n\r\nbodyGET /b HTTP/1.1\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut answers = String::new();
        client.read_to_string(&mut answers).unwrap();
        server.join().unwrap().unwrap();
        assert_eq!(answers.matches("hello from v2\n").count(), 2, "{answers}");
        assert!(answers.ends_with("Connection: close\r\n\r\nhello from v2\n"), "{answers}");
    }
}
