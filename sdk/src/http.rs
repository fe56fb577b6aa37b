//! Outgoing HTTP for plugins: a blocking `GET` through the standard `wasi:http` interfaces.
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

/// Sends `GET url` and reads the whole answer. Connection failures are `unavailable` and
/// retryable; a destination the host refuses is `denied`.
pub fn get(url: &str) -> Result<Response, PluginError> {
    let parsed = parse_url(url)?;
    imp::get(&parsed, url)
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{ErrorCode, Fields, Method, OutgoingBody, OutgoingRequest, Scheme};
    use wasip2::io::streams::StreamError;

    use super::{MAX_BODY_BYTES, Response, Url};
    use crate::PluginError;

    fn failed(url: &str, code: ErrorCode) -> PluginError {
        match code {
            ErrorCode::HttpRequestDenied => {
                PluginError::denied(format!("GET {url}: the host refused it (not in grants.network.http)"))
            }
            other => {
                let mut e = PluginError::unavailable(format!("GET {url}: {other:?}"));
                e.retryable = true;
                e
            }
        }
    }

    pub fn get(parsed: &Url<'_>, url: &str) -> Result<Response, PluginError> {
        let request = OutgoingRequest::new(Fields::new());
        let scheme = if parsed.https { Scheme::Https } else { Scheme::Http };
        let bad = |what: &str| PluginError::invalid_config(format!("GET {url}: invalid {what}"));
        request.set_method(&Method::Get).map_err(|()| bad("method"))?;
        request.set_scheme(Some(&scheme)).map_err(|()| bad("scheme"))?;
        request.set_authority(Some(parsed.authority)).map_err(|()| bad("host"))?;
        request.set_path_with_query(Some(parsed.path)).map_err(|()| bad("path"))?;
        let body = request.body().map_err(|()| PluginError::internal("request body taken twice"))?;
        let pending = outgoing_handler::handle(request, None).map_err(|e| failed(url, e))?;
        OutgoingBody::finish(body, None).map_err(|e| failed(url, e))?;
        pending.subscribe().block();
        let response = match pending.get() {
            Some(Ok(Ok(response))) => response,
            Some(Ok(Err(code))) => return Err(failed(url, code)),
            Some(Err(())) | None => return Err(PluginError::internal(format!("GET {url}: no response"))),
        };
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
                            "GET {url}: answer longer than {MAX_BODY_BYTES} bytes"
                        )));
                    }
                }
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => {
                    return Err(PluginError::unavailable(format!("GET {url}: {}", e.to_debug_string())));
                }
            }
        }
        Ok(Response { status, body })
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use std::io::{Read, Write};

    use super::{MAX_BODY_BYTES, Response, Url};
    use crate::PluginError;

    /// The native stand-in: HTTP/1.0 over a plain TCP connection.
    pub fn get(parsed: &Url<'_>, url: &str) -> Result<Response, PluginError> {
        if parsed.https {
            return Err(PluginError::unavailable(format!("GET {url}: https needs the sandbox's wasi:http")));
        }
        let address = if parsed.authority.contains(':') {
            parsed.authority.to_string()
        } else {
            format!("{}:80", parsed.authority)
        };
        let unavailable = |e: std::io::Error| PluginError::unavailable(format!("GET {url}: {e}"));
        let mut stream = std::net::TcpStream::connect(&address).map_err(unavailable)?;
        let request = format!("GET {} HTTP/1.0\r\nHost: {}\r\n\r\n", parsed.path, parsed.authority);
        stream.write_all(request.as_bytes()).map_err(unavailable)?;
        let mut raw = Vec::new();
        stream.take((MAX_BODY_BYTES + (16 << 10)) as u64).read_to_end(&mut raw).map_err(unavailable)?;
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| PluginError::unavailable(format!("GET {url}: the answer has no complete header")))?;
        let head = String::from_utf8_lossy(&raw[..split]);
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| PluginError::unavailable(format!("GET {url}: no status in {head:?}")))?;
        Ok(Response { status, body: raw[split + 4..].to_vec() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            use std::io::{Read, Write};
            let (mut s, _) = listener.accept().unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && s.read(&mut byte).unwrap() == 1 {
                head.push(byte[0]);
            }
            assert!(String::from_utf8_lossy(&head).starts_with("GET /x?y=1 HTTP/1.0\r\n"));
            s.write_all(b"HTTP/1.0 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy").unwrap();
        });
        let r = get(&format!("http://{address}/x?y=1")).unwrap();
        assert_eq!((r.status, r.text().as_str()), (503, "busy"));
        server.join().unwrap();
    }
}
