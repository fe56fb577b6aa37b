//! Outgoing HTTP for plugins: blocking requests (any method, headers, a body) through the standard
//! `wasi:http` interfaces; [`get`] for the common case.
//!
//! The host sends a request only to a server the spec grants (`grants.network.http = ["host:port"]`)
//! and only to a plugin that declares `upshift_sdk::capabilities!(network)`; any other request
//! fails with [`ErrorKind::Denied`](crate::ErrorKind). Compiled natively (for plugin unit tests),
//! plain `http://` requests go out directly over TCP.

use crate::PluginError;

/// Largest response body read; a longer body is an error rather than an unbounded allocation.
pub const MAX_BODY_BYTES: usize = 4 << 20;

/// An answer: its status and its whole body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Response {
    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A URL split into the parts a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url<'a> {
    pub https: bool,
    /// `host` or `host:port`, as written.
    pub authority: &'a str,
    /// Path and query, starting with `/`.
    pub path: &'a str,
}

/// Splits an `http://` or `https://` URL.
pub fn parse_url(url: &str) -> Result<Url<'_>, PluginError> {
    let (https, rest) = if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else {
        return Err(PluginError::invalid_config(format!("URL {url:?} must start with http:// or https://")));
    };
    let (authority, path) = rest.find('/').map_or((rest, "/"), |i| (&rest[..i], &rest[i..]));
    if authority.is_empty() {
        return Err(PluginError::invalid_config(format!("URL {url:?} has no host")));
    }
    Ok(Url { https, authority, path })
}

/// Percent-encodes `text` for a query string value.
pub fn encode_query_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A request to send with [`send`].
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `GET`, `POST`, `PUT`, `DELETE`, `PATCH`, `HEAD` or another token.
    pub method: &'a str,
    pub url: &'a str,
    /// Sent as given. `Host` comes from the URL; the sandbox refuses headers it forbids (`Host`,
    /// `Connection`, ...) as `invalid-config`.
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
    /// The longest wait to connect, and for each part of the answer (`None`: the host's limit, the
    /// call's own deadline). A wait past it is `unavailable`.
    pub timeout: Option<std::time::Duration>,
}

/// Sends `GET url` and reads the whole answer. Connection failures are `unavailable` and
/// retryable; a destination the host refuses is `denied`.
pub fn get(url: &str) -> Result<Response, PluginError> {
    send(&Request { method: "GET", url, headers: &[], body: &[], timeout: None })
}

/// Sends `request` and reads the whole answer (at most [`MAX_BODY_BYTES`]). Connection failures
/// are `unavailable` and retryable; a destination the host refuses is `denied`.
pub fn send(request: &Request<'_>) -> Result<Response, PluginError> {
    let parsed = parse_url(request.url)?;
    let invalid = |what: String| PluginError::invalid_config(format!("{} {}: {what}", request.method, request.url));
    if request.method.is_empty() || !request.method.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(invalid(format!("method {:?} is not a token", request.method)));
    }
    for (name, value) in request.headers {
        let bad_name = name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
        if bad_name || value.bytes().any(|b| b == b'\r' || b == b'\n') {
            return Err(invalid(format!("header {name:?} is not a valid name and value")));
        }
    }
    imp::send(&parsed, request)
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{ErrorCode, Fields, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme};
    use wasip2::io::streams::StreamError;

    use super::{MAX_BODY_BYTES, Request, Response, Url};
    use crate::PluginError;

    fn failed(what: &str, code: ErrorCode) -> PluginError {
        match code {
            ErrorCode::HttpRequestDenied => {
                PluginError::denied(format!("{what}: the host refused it (not in grants.network.http)"))
            }
            other => {
                let mut e = PluginError::unavailable(format!("{what}: {other:?}"));
                e.retryable = true;
                e
            }
        }
    }

    fn method(name: &str) -> Method {
        match name {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "CONNECT" => Method::Connect,
            "OPTIONS" => Method::Options,
            "TRACE" => Method::Trace,
            "PATCH" => Method::Patch,
            other => Method::Other(other.to_string()),
        }
    }

    pub fn send(parsed: &Url<'_>, r: &Request<'_>) -> Result<Response, PluginError> {
        let what = format!("{} {}", r.method, r.url);
        let bad = |thing: &str| PluginError::invalid_config(format!("{what}: invalid {thing}"));
        let entries: Vec<(String, Vec<u8>)> =
            r.headers.iter().map(|(name, value)| (name.to_string(), value.as_bytes().to_vec())).collect();
        let fields = Fields::from_list(&entries)
            .map_err(|e| PluginError::invalid_config(format!("{what}: a header the sandbox refuses ({e:?})")))?;
        let request = OutgoingRequest::new(fields);
        let scheme = if parsed.https { Scheme::Https } else { Scheme::Http };
        request.set_method(&method(r.method)).map_err(|()| bad("method"))?;
        request.set_scheme(Some(&scheme)).map_err(|()| bad("scheme"))?;
        request.set_authority(Some(parsed.authority)).map_err(|()| bad("host"))?;
        request.set_path_with_query(Some(parsed.path)).map_err(|()| bad("path"))?;
        let body = request.body().map_err(|()| PluginError::internal("request body taken twice"))?;
        let options = match r.timeout {
            Some(t) => {
                let ns = u64::try_from(t.as_nanos()).unwrap_or(u64::MAX);
                let options = RequestOptions::new();
                let refused = |_| PluginError::internal(format!("{what}: the host refused a timeout of {t:?}"));
                options.set_connect_timeout(Some(ns)).map_err(refused)?;
                options.set_first_byte_timeout(Some(ns)).map_err(refused)?;
                options.set_between_bytes_timeout(Some(ns)).map_err(refused)?;
                Some(options)
            }
            None => None,
        };
        let pending = outgoing_handler::handle(request, options).map_err(|e| failed(&what, e))?;
        // A body the request could not take (refused, connection gone) is reported after the
        // response's own error, which says why (a destination not granted is `denied`).
        let mut unsent = None;
        if !r.body.is_empty() {
            let stream = body.write().map_err(|()| PluginError::internal("request stream taken twice"))?;
            // `blocking-write-and-flush` takes at most 4096 bytes a call.
            for chunk in r.body.chunks(4096) {
                if let Err(e) = stream.blocking_write_and_flush(chunk) {
                    unsent = Some(match e {
                        StreamError::LastOperationFailed(e) => {
                            PluginError::unavailable(format!("{what}: {}", e.to_debug_string()))
                        }
                        StreamError::Closed => PluginError::unavailable(format!("{what}: the connection closed")),
                    });
                    break;
                }
            }
        }
        let finished = OutgoingBody::finish(body, None);
        pending.subscribe().block();
        let response = match pending.get() {
            Some(Ok(Ok(response))) => response,
            Some(Ok(Err(code))) => return Err(failed(&what, code)),
            Some(Err(())) | None => return Err(PluginError::internal(format!("{what}: no response"))),
        };
        if let Some(e) = unsent {
            return Err(e);
        }
        finished.map_err(|e| failed(&what, e))?;
        let status = response.status();
        let incoming = response.consume().map_err(|()| PluginError::internal("response body taken twice"))?;
        let stream = incoming.stream().map_err(|()| PluginError::internal("response stream taken twice"))?;
        let mut body = Vec::new();
        loop {
            match stream.blocking_read(64 << 10) {
                Ok(chunk) => {
                    body.extend_from_slice(&chunk);
                    if body.len() > MAX_BODY_BYTES {
                        return Err(PluginError::internal(format!(
                            "{what}: answer longer than {MAX_BODY_BYTES} bytes"
                        )));
                    }
                }
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => {
                    return Err(PluginError::unavailable(format!("{what}: {}", e.to_debug_string())));
                }
            }
        }
        Ok(Response { status, body })
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use std::io::{Read, Write};

    use super::{MAX_BODY_BYTES, Request, Response, Url};
    use crate::PluginError;

    /// The native stand-in: HTTP/1.0 over a plain TCP connection.
    pub fn send(parsed: &Url<'_>, r: &Request<'_>) -> Result<Response, PluginError> {
        let what = format!("{} {}", r.method, r.url);
        if parsed.https {
            return Err(PluginError::unavailable(format!("{what}: https needs the sandbox's wasi:http")));
        }
        let address = if parsed.authority.contains(':') {
            parsed.authority.to_string()
        } else {
            format!("{}:80", parsed.authority)
        };
        let unavailable = |e: std::io::Error| PluginError::unavailable(format!("{what}: {e}"));
        let mut stream = match r.timeout {
            Some(t) => {
                let address = std::net::ToSocketAddrs::to_socket_addrs(&address)
                    .map_err(unavailable)?
                    .next()
                    .ok_or_else(|| PluginError::unavailable(format!("{what}: {address} resolves to nothing")))?;
                std::net::TcpStream::connect_timeout(&address, t).map_err(unavailable)?
            }
            None => std::net::TcpStream::connect(&address).map_err(unavailable)?,
        };
        stream.set_read_timeout(r.timeout).map_err(unavailable)?;
        let mut head = format!("{} {} HTTP/1.0\r\nHost: {}\r\n", r.method, parsed.path, parsed.authority);
        for (name, value) in r.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if !r.body.is_empty() || !matches!(r.method, "GET" | "HEAD") {
            head.push_str(&format!("Content-Length: {}\r\n", r.body.len()));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).map_err(unavailable)?;
        stream.write_all(r.body).map_err(unavailable)?;
        let mut raw = Vec::new();
        stream.take((MAX_BODY_BYTES + (16 << 10)) as u64).read_to_end(&mut raw).map_err(unavailable)?;
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| PluginError::unavailable(format!("{what}: the answer has no complete header")))?;
        let head = String::from_utf8_lossy(&raw[..split]);
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| PluginError::unavailable(format!("{what}: no status in {head:?}")))?;
        Ok(Response { status, body: raw[split + 4..].to_vec() })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A server for one request: answers `answer` and hands back the request's head and the
    /// `body_len` bytes after it.
    pub(crate) fn serve_once(
        answer: &'static [u8],
        body_len: usize,
    ) -> (std::net::SocketAddr, std::thread::JoinHandle<(String, Vec<u8>)>) {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && s.read(&mut byte).unwrap() == 1 {
                head.push(byte[0]);
            }
            let mut body = vec![0u8; body_len];
            s.read_exact(&mut body).unwrap();
            s.write_all(answer).unwrap();
            (String::from_utf8(head).unwrap(), body)
        });
        (address, server)
    }

    #[test]
    fn urls_split_into_scheme_authority_and_path() {
        assert_eq!(
            parse_url("http://127.0.0.1:9090/api/v1/query?query=up").unwrap(),
            Url { https: false, authority: "127.0.0.1:9090", path: "/api/v1/query?query=up" }
        );
        assert_eq!(parse_url("https://example.org").unwrap(), Url { https: true, authority: "example.org", path: "/" });
        assert!(parse_url("ftp://x/").is_err());
        assert!(parse_url("http:///x").is_err());
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(encode_query_value("rate(x{a=\"b\"}[5s])"), "rate%28x%7Ba%3D%22b%22%7D%5B5s%5D%29");
    }

    #[test]
    fn the_native_stand_in_speaks_plain_http() {
        let (address, server) = serve_once(b"HTTP/1.0 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy", 0);
        let r = get(&format!("http://{address}/x?y=1")).unwrap();
        assert_eq!((r.status, r.text().as_str()), (503, "busy"));
        let (head, _) = server.join().unwrap();
        assert!(head.starts_with("GET /x?y=1 HTTP/1.0\r\n"), "{head}");
    }

    #[test]
    fn a_post_carries_its_method_headers_and_body() {
        let (address, server) = serve_once(b"HTTP/1.0 200 OK\r\n\r\nok", 13);
        let request = Request {
            method: "PUT",
            url: &format!("http://{address}/functions/f/aliases/live"),
            headers: &[("Content-Type", "application/json"), ("X-Amz-Date", "20150830T123600Z")],
            body: br#"{"Name":"x"}"#.as_slice(),
            timeout: Some(std::time::Duration::from_secs(5)),
        };
        assert_eq!(request.body.len(), 12);
        let body = [request.body, b"\n"].concat();
        let r = send(&Request { body: &body, ..request }).unwrap();
        assert_eq!((r.status, r.text().as_str()), (200, "ok"));
        let (head, sent) = server.join().unwrap();
        assert!(head.starts_with("PUT /functions/f/aliases/live HTTP/1.0\r\n"), "{head}");
        for line in ["Content-Type: application/json\r\n", "X-Amz-Date: 20150830T123600Z\r\n", "Content-Length: 13\r\n"]
        {
            assert!(head.contains(line), "{line:?} in {head}");
        }
        assert_eq!(sent, body);
    }

    #[test]
    fn a_malformed_method_or_header_is_refused_before_anything_is_sent() {
        let url = "http://127.0.0.1:9/";
        let refused = |method, headers: &[(&str, &str)]| {
            let e = send(&Request { method, url, headers, body: b"", timeout: None }).unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::InvalidConfig, "{e:?}");
            e.message
        };
        assert!(refused("GE T", &[]).contains("method"));
        assert!(refused("", &[]).contains("method"));
        assert!(refused("GET", &[("X-A", "1\r\nX-Injected: 2")]).contains("X-A"));
        assert!(refused("GET", &[("Bad Name", "1")]).contains("Bad Name"));
    }
}
