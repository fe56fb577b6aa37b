//! The network gate of one plugin store: which TCP peers (`wasi:sockets`) and HTTP authorities
//! (`wasi:http`) a plugin may reach, and the record of every destination the host refused, so the
//! error and the audit trail can name the address and the plugin.
//!
//! HTTP timeouts are cut to the call's deadline here. A plugin blocked on a TCP peer (`wasi:sockets`:
//! a read from a peer that never answers, a write to one that never reads) waits inside the host,
//! where the epoch deadline does not reach; that wait is an async future the call's deadline drops
//! (`driver.rs`), so it too ends at the plugin's time limit.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpHooks};

use super::grants::NetworkGrant;

/// Destinations refused during the current call, one line each.
#[derive(Debug, Clone, Default)]
pub struct Refusals(Arc<Mutex<Vec<String>>>);

impl Refusals {
    fn push(&self, line: String) {
        tracing::warn!("{line}");
        if let Ok(mut lines) = self.0.lock() {
            lines.push(line);
        }
    }

    /// The refusals since the last take.
    pub fn take(&self) -> Vec<String> {
        self.0.lock().map(|mut lines| std::mem::take(&mut *lines)).unwrap_or_default()
    }
}

/// Whether `addr` may be used as `usage` under `grant`. The implicit bind before a connect (to the
/// wildcard address, port 0) is always allowed, so that the connect itself is checked and a
/// refusal names the peer; listening, accepting and UDP never are.
pub fn socket_allowed(grant: &NetworkGrant, addr: SocketAddr, usage: SocketAddrUse) -> bool {
    match usage {
        SocketAddrUse::TcpConnect => grant.tcp.contains(&addr),
        SocketAddrUse::TcpBind => addr.ip().is_unspecified() && addr.port() == 0,
        _ => false,
    }
}

/// The `wasi:sockets` address check for one plugin store.
pub fn socket_check(
    plugin: Arc<str>,
    grant: Arc<NetworkGrant>,
    refusals: Refusals,
) -> impl Fn(SocketAddr, SocketAddrUse) -> Pin<Box<dyn Future<Output = bool> + Send + Sync>> + Send + Sync + 'static {
    move |addr, usage| {
        let allowed = socket_allowed(&grant, addr, usage);
        if !allowed {
            let what = match usage {
                SocketAddrUse::TcpConnect => "TCP connection to",
                SocketAddrUse::TcpBind => "TCP bind to",
                SocketAddrUse::TcpListen | SocketAddrUse::TcpAccept => "TCP listening on",
                _ => "UDP on",
            };
            refusals.push(format!(
                "plugin {plugin}: {what} {addr} refused: not granted (add it to grants.network.tcp to allow it)"
            ));
        }
        Box::pin(std::future::ready(allowed))
    }
}

/// The `wasi:http` hooks of one plugin store: requests go out only to granted authorities, with
/// every network timeout cut to the plugin's call deadline (a stalled server cannot hold the host).
pub struct HttpGate {
    pub plugin: Arc<str>,
    pub grant: Arc<NetworkGrant>,
    pub refusals: Refusals,
    pub timeout: Duration,
}

type Sent = Box<
    dyn Future<
            Output = wasmtime_wasi_http::Result<(
                http::Response<WasiBody>,
                Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
            )>,
        > + Send,
>;

impl WasiHttpHooks for HttpGate {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Sent {
        let authority = authority_of(request.uri());
        if !authority.as_deref().is_some_and(|a| self.grant.allows_http(a)) {
            let shown = authority.unwrap_or_else(|| request.uri().to_string());
            self.refusals.push(format!(
                "plugin {}: HTTP request to {shown} refused: not granted (add it to grants.network.http to allow it)",
                self.plugin
            ));
            return Box::new(std::future::ready(Err(wasmtime_wasi_http::Error::HttpRequestDenied)));
        }
        let cap = |d: Option<Duration>| Some(d.map_or(self.timeout, |d| d.min(self.timeout)));
        let options = options.unwrap_or_default();
        let options = RequestOptions {
            connect_timeout: cap(options.connect_timeout),
            first_byte_timeout: cap(options.first_byte_timeout),
            between_bytes_timeout: cap(options.between_bytes_timeout),
        };
        drop(fut);
        Box::new(async move {
            use http_body_util::BodyExt;
            let (response, io) = wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
            Ok((response.map(BodyExt::boxed_unsync), Box::new(io) as Box<dyn Future<Output = _> + Send>))
        })
    }
}

/// `host:port` of a request, with the scheme's default port when none is given.
fn authority_of(uri: &http::Uri) -> Option<String> {
    let host = uri.host()?.to_ascii_lowercase();
    let port = uri.port_u16().unwrap_or(if uri.scheme_str() == Some("https") { 443 } else { 80 });
    Some(format!("{host}:{port}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> NetworkGrant {
        NetworkGrant { tcp: vec!["127.0.0.1:9999".parse().unwrap()], http: vec!["127.0.0.1:9090".into()] }
    }

    #[test]
    fn only_granted_peers_may_be_connected() {
        let g = grant();
        assert!(socket_allowed(&g, "127.0.0.1:9999".parse().unwrap(), SocketAddrUse::TcpConnect));
        assert!(!socket_allowed(&g, "127.0.0.1:9998".parse().unwrap(), SocketAddrUse::TcpConnect));
        assert!(socket_allowed(&g, "0.0.0.0:0".parse().unwrap(), SocketAddrUse::TcpBind));
        assert!(!socket_allowed(&g, "0.0.0.0:8080".parse().unwrap(), SocketAddrUse::TcpBind));
        assert!(!socket_allowed(&g, "127.0.0.1:9999".parse().unwrap(), SocketAddrUse::TcpListen));
        assert!(!socket_allowed(
            &NetworkGrant::default(),
            "127.0.0.1:9999".parse().unwrap(),
            SocketAddrUse::TcpConnect
        ));
    }

    #[test]
    fn the_authority_carries_the_default_port() {
        let uri: http::Uri = "http://LocalHost/api".parse().unwrap();
        assert_eq!(authority_of(&uri).as_deref(), Some("localhost:80"));
        let uri: http::Uri = "https://example.org:8443/".parse().unwrap();
        assert_eq!(authority_of(&uri).as_deref(), Some("example.org:8443"));
        assert!(grant().allows_http("127.0.0.1:9090"));
        assert!(!grant().allows_http("127.0.0.1:9091"));
    }

    #[test]
    fn refusals_are_taken_once() {
        let r = Refusals::default();
        r.push("a".into());
        assert_eq!(r.take(), vec!["a".to_string()]);
        assert!(r.take().is_empty());
    }
}
