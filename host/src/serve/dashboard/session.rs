//! Who is looking at the dashboard, and protection of what they send.
//!
//! - **Sign-in.** A person signs in with an API token. It is kept in a cookie the page's scripts
//!   cannot read (`HttpOnly`), that no other site's page sends (`SameSite=Strict`), and that the
//!   server presents exactly as an `Authorization: Bearer` header: one authentication path with the
//!   API (`api::authorized`), the same roles, and the token's name as the journal's actor.
//! - **CSRF.** Every action carries a token derived from the session's credential (sha256 with a
//!   domain prefix), which a page of another site can neither read nor compute; on a loopback server
//!   without tokens (no credential), it is derived from a secret the server draws at start.
//! - **Origin.** A `POST` whose `Origin` (or `Sec-Fetch-Site`) says another site sent it is refused
//!   before any handler runs, on the dashboard and on the API alike: a browser on the server's host
//!   cannot be made to abort a rollout of an open loopback server by a page it visits.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// The session cookie's name.
pub const COOKIE: &str = "upshift_session";
/// How long a session cookie lasts, in seconds: a working day.
pub const SESSION_SECONDS: u64 = 12 * 3600;
/// The form field and the header an action's CSRF token travels in.
pub const CSRF_FIELD: &str = "csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The session's token from the request's cookies, if it has one.
pub fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The request's credential as an `Authorization` value: its own header if it sent one (a script
/// or `curl`), else the session cookie's token.
pub fn credential(headers: &HeaderMap) -> Option<String> {
    if let Some(h) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        return Some(h.to_string());
    }
    cookie_token(headers).map(|t| format!("Bearer {t}"))
}

/// Whether `token` can be kept in a cookie as it is (a token `upshift token create` made always can).
pub fn cookie_safe(token: &str) -> bool {
    !token.is_empty() && token.len() <= 512 && token.bytes().all(|b| b.is_ascii_graphic() && !b"\";,\\".contains(&b))
}

/// The `Set-Cookie` value that signs `token` in.
pub fn sign_in(token: &str) -> String {
    format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={SESSION_SECONDS}")
}

/// The `Set-Cookie` value that signs out.
pub fn sign_out() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// The CSRF token of a session whose credential is `credential` (`None` on an open server, which
/// uses `secret`).
pub fn csrf(credential: Option<&str>, secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"upshift-dashboard-csrf\0");
    h.update(credential.unwrap_or(secret).as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// Whether `sent` is the session's CSRF token (compared in constant time).
pub fn csrf_ok(sent: Option<&str>, credential: Option<&str>, secret: &str) -> bool {
    let want = csrf(credential, secret);
    let Some(sent) = sent else { return false };
    sent.len() == want.len() && sent.bytes().zip(want.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// A random secret for an open server's CSRF tokens. Without the system's randomness there is
/// none: a predictable secret would let any page forge the tokens.
pub fn new_secret() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(hex::encode(bytes))
}

/// Whether a request's `Origin` and `Sec-Fetch-Site` say a page of another site sent it.
pub fn cross_site(headers: &HeaderMap) -> bool {
    if headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()).is_some_and(|v| v == "cross-site") {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let origin_host = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"));
    origin_host != Some(host)
}

/// Middleware: refuses a `POST` (or any other method that changes something) sent by a page of
/// another site.
pub async fn same_origin(req: Request, next: Next) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe && cross_site(req.headers()) {
        return super::super::ApiError::new(
            StatusCode::FORBIDDEN,
            "cross_site",
            "refusing a request another site's page sent; use the dashboard or the API from their own origin",
        )
        .into_response();
    }
    next.run(req).await
}

/// Middleware: the security headers of every dashboard response. Scripts, styles and images come
/// only from the server itself (no inline script or style anywhere), nothing frames the page, and
/// no address leaks to another site in a `Referer` (`same-origin`: `no-referrer` would make the
/// browser send `Origin: null` with the page's own forms, which [`same_origin`] refuses).
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
             frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'",
        ),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn the_cookie_is_found_among_others_and_an_authorization_header_wins() {
        let h = headers(&[("cookie", "a=b; upshift_session=upshift_abc ; c=d")]);
        assert_eq!(cookie_token(&h).as_deref(), Some("upshift_abc"));
        assert_eq!(credential(&h).as_deref(), Some("Bearer upshift_abc"));
        let h = headers(&[("cookie", "upshift_session=x"), ("authorization", "Bearer y")]);
        assert_eq!(credential(&h).as_deref(), Some("Bearer y"));
        assert_eq!(cookie_token(&headers(&[("cookie", "upshift_session=")])), None);
    }

    #[test]
    fn the_cookie_is_httponly_strict_and_holds_only_safe_tokens() {
        let c = sign_in("upshift_00");
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Path=/"));
        assert!(sign_out().contains("Max-Age=0"));
        assert!(cookie_safe("upshift_0123abcd"));
        for bad in ["", "a;b", "a b", "a\"", "a,b", "é"] {
            assert!(!cookie_safe(bad), "{bad:?}");
        }
    }

    #[test]
    fn csrf_tokens_belong_to_their_session() {
        let a = csrf(Some("Bearer a"), "s");
        assert!(csrf_ok(Some(&a), Some("Bearer a"), "s"));
        assert!(!csrf_ok(Some(&a), Some("Bearer b"), "s"));
        assert!(!csrf_ok(None, Some("Bearer a"), "s"));
        assert!(!csrf_ok(Some(""), Some("Bearer a"), "s"));
        let open = csrf(None, "s1");
        assert!(csrf_ok(Some(&open), None, "s1") && !csrf_ok(Some(&open), None, "s2"));
    }

    #[test]
    fn another_sites_page_is_recognised() {
        let host = ("host", "127.0.0.1:8700");
        assert!(!cross_site(&headers(&[host])));
        assert!(!cross_site(&headers(&[host, ("origin", "http://127.0.0.1:8700")])));
        assert!(cross_site(&headers(&[host, ("origin", "http://evil.example")])));
        assert!(cross_site(&headers(&[host, ("origin", "null")])));
        assert!(cross_site(&headers(&[host, ("sec-fetch-site", "cross-site")])));
        assert!(!cross_site(&headers(&[host, ("sec-fetch-site", "same-origin")])));
    }
}
