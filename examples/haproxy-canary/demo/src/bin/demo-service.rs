//! `demo-service`: the app that plays "v1" or "v2" behind HAProxy in the canary example, failing
//! (or slowing down) a deterministic share of its requests so the canary analysis has something to
//! see, and telling Prometheus its answers and their latency on `/metrics`.

use std::io::{self, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use upshift_demo::flags::Flags;
use upshift_demo::head::{Head, HeadError, read_head};
use upshift_demo::metrics::Metrics;
use upshift_demo::schedule::Schedule;

const USAGE: &str = "\
demo-service: a tiny HTTP/1.1 app that plays one version of a service in the HAProxy canary demo.

Usage: demo-service --listen ADDR [options]

Every path answers `200 OK` with `hello from VERSION`, except a deterministic share of requests
answered `500 Internal Server Error` with `error from VERSION`. /healthz always answers 200 `ok`;
/metrics answers the Prometheus text of the answers so far (by status code) and a histogram of
their latency, labelled with the version. Neither is delayed, failed or counted.
Connections are kept alive until the client sends `Connection: close`.

Options:
  --listen ADDR      address to listen on, e.g. 127.0.0.1:8081 (required; port 0 picks one)
  --version TEXT     version named in bodies and the X-Version header [default: v1]
  --error-rate F     fraction of requests answered 500, from 0.0 to 1.0 [default: 0]
  --latency-ms N     extra delay before every answer except /healthz and /metrics [default: 0]
  --slow-rate F      fraction of requests delayed a further --slow-ms, from 0.0 to 1.0: a slower
                     tail with the same median [default: 0]
  --slow-ms N        the further delay of those requests [default: 0]
  --seed N           where in the error and slow schedules to start, so instances differ
  -h, --help         print this help

Exit status: 0 after --help, 1 if the address cannot be used, 2 for bad flags.";

const DEFAULT_VERSION: &str = "v1";
const DEFAULT_ERROR_RATE: f64 = 0.0;
const DEFAULT_LATENCY_MS: u64 = 0;
const DEFAULT_SLOW_RATE: f64 = 0.0;
const DEFAULT_SLOW_MS: u64 = 0;

/// Health checks must reflect liveness, never the injected faults: no error, no extra latency.
const HEALTH_PATH: &str = "/healthz";
/// Prometheus scrapes: like health checks, never faulted and not counted.
const METRICS_PATH: &str = "/metrics";

/// An idle connection is dropped after this long, so clients that vanish do not hold threads for
/// ever. It is longer than HAProxy's usual keep-alive timeouts, so the proxy closes first.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// A pause after a failed `accept`, so running out of file descriptors does not spin a core.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);

#[derive(Debug, PartialEq)]
struct Config {
    listen: SocketAddr,
    version: String,
    error_rate: f64,
    latency: Duration,
    slow_rate: f64,
    slow_latency: Duration,
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
    let mut slow_rate = DEFAULT_SLOW_RATE;
    let mut slow_ms = DEFAULT_SLOW_MS;
    let mut seed = None;
    while let Some(flag) = flags.next_flag()? {
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--listen" => listen = Some(flags.parsed("an address like 127.0.0.1:8081")?),
            "--version" => version = flags.value()?,
            "--error-rate" => error_rate = fraction(&mut flags)?,
            "--latency-ms" => latency_ms = flags.parsed("a whole number of milliseconds")?,
            "--slow-rate" => slow_rate = fraction(&mut flags)?,
            "--slow-ms" => slow_ms = flags.parsed("a whole number of milliseconds")?,
            "--seed" => seed = Some(flags.parsed("a whole number")?),
            _ => return Err(flags.unknown()),
        }
    }
    let listen = listen.ok_or("`--listen` is required, e.g. `--listen 127.0.0.1:8081`")?;
    Ok(Command::Serve(Config {
        listen,
        version,
        error_rate,
        latency: Duration::from_millis(latency_ms),
        slow_rate,
        slow_latency: Duration::from_millis(slow_ms),
        seed,
    }))
}

/// The current flag's value as a fraction from 0 to 1.
fn fraction<I: Iterator<Item = String>>(flags: &mut Flags<I>) -> Result<f64, String> {
    const EXPECTED: &str = "a fraction from 0.0 to 1.0";
    let raw = flags.value()?;
    let value: f64 = raw.parse().map_err(|_| flags.invalid(EXPECTED, &raw))?;
    if !(0.0..=1.0).contains(&value) {
        return Err(flags.invalid(EXPECTED, &raw));
    }
    Ok(value)
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
    slow_latency: Duration,
    errors: Schedule,
    slow: Schedule,
    metrics: Metrics,
}

/// How a request is answered: right away (health checks, scrapes), or as the app (delayed,
/// perhaps failed, counted in the metrics).
#[derive(Debug, PartialEq)]
enum Answer {
    Plain(Reply),
    App { reply: Reply, delay: Duration },
}

impl Service {
    fn new(config: &Config) -> Self {
        Self {
            version: config.version.clone(),
            latency: config.latency,
            slow_latency: config.slow_latency,
            errors: Schedule::new(config.error_rate, config.seed),
            slow: Schedule::new(config.slow_rate, config.seed),
            metrics: Metrics::new(&config.version),
        }
    }

    /// The answer for a path; an app request takes its places in the error and slow schedules.
    fn route(&self, path: &str) -> Answer {
        if path == HEALTH_PATH {
            return Answer::Plain(Reply::new(200, "OK", "ok\n"));
        }
        if path == METRICS_PATH {
            return Answer::Plain(Reply::new(200, "OK", self.metrics.render()));
        }
        let reply = if self.errors.next_picked() {
            Reply::new(500, "Internal Server Error", format!("error from {}\n", self.version))
        } else {
            Reply::new(200, "OK", format!("hello from {}\n", self.version))
        };
        let delay = if self.slow.next_picked() { self.latency + self.slow_latency } else { self.latency };
        Answer::App { reply, delay }
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
            let started = Instant::now();
            let discarded = io::copy(&mut io::Read::take(&mut reader, request.body_len), &mut io::sink())?;
            if discarded < request.body_len {
                return Ok(());
            }
            let reply = match self.route(&request.path) {
                Answer::Plain(reply) => reply,
                Answer::App { reply, delay } => {
                    if !delay.is_zero() {
                        thread::sleep(delay);
                    }
                    self.metrics.observe(reply.status, started.elapsed());
                    reply
                }
            };
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
        assert_eq!((config.slow_rate, config.slow_latency), (0.0, Duration::ZERO));
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
            "--slow-rate",
            "0.02",
            "--slow-ms=250",
        ]);
        assert_eq!(config.version, "v2");
        assert_eq!(config.error_rate, 0.05);
        assert_eq!(config.latency, Duration::from_millis(5));
        assert_eq!((config.slow_rate, config.slow_latency), (0.02, Duration::from_millis(250)));
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
    fn rates_outside_zero_to_one_are_rejected() {
        for flag in ["--error-rate", "--slow-rate"] {
            for bad in ["1.5", "-0.1", "NaN", "lots"] {
                let error = parse_args(args(&["--listen", "127.0.0.1:1", flag, bad])).unwrap_err();
                assert!(error.contains(&format!("`{flag}`")), "{bad}: {error}");
            }
        }
    }

    #[test]
    fn health_checks_and_scrapes_never_fail_and_are_not_counted() {
        let config = config(&["--listen", "127.0.0.1:1", "--error-rate", "1", "--version", "v2", "--latency-ms", "5"]);
        let service = Service::new(&config);
        assert_eq!(service.route(HEALTH_PATH), Answer::Plain(Reply::new(200, "OK", "ok\n")));
        assert!(matches!(service.route(METRICS_PATH), Answer::Plain(Reply { status: 200, .. })));
        assert_eq!((service.errors.position(), service.slow.position()), (0, 0));
        let failed = Reply::new(500, "Internal Server Error", "error from v2\n");
        assert_eq!(service.route("/anything"), Answer::App { reply: failed, delay: Duration::from_millis(5) });
    }

    #[test]
    fn a_slow_request_takes_the_further_delay() {
        let config =
            config(&["--listen", "127.0.0.1:1", "--latency-ms", "50", "--slow-rate", "0.5", "--slow-ms", "300"]);
        let service = Service::new(&config);
        let delays: Vec<Duration> = (0..4)
            .map(|_| match service.route("/") {
                Answer::App { delay, .. } => delay,
                other => panic!("{other:?}"),
            })
            .collect();
        let (fast, slow) = (Duration::from_millis(50), Duration::from_millis(350));
        assert_eq!(delays, [fast, slow, fast, slow]);
    }

    #[test]
    fn metrics_count_answers_by_status_and_latency() {
        let service = Service::new(&config(&["--listen", "127.0.0.1:1", "--version", "v2"]));
        service.metrics.observe(200, Duration::from_millis(51));
        let Answer::Plain(reply) = service.route(METRICS_PATH) else { panic!("a scrape is answered plainly") };
        assert!(reply.body.contains("demo_requests_total{version=\"v2\",code=\"200\"} 1\n"), "{}", reply.body);
        assert!(reply.body.contains("demo_request_duration_seconds_bucket{version=\"v2\",le=\"0.06\"} 1\n"));
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
