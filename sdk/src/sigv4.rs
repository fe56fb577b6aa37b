//! AWS Signature Version 4 (`AWS4-HMAC-SHA256`) for requests a plugin sends to AWS services
//! through [`crate::http`]: the headers that authenticate one request, computed without I/O.
//!
//! The algorithm, as AWS documents it ("Create a signed AWS API request"):
//!
//! 1. **Canonical request**: six lines joined by `\n`:
//!    - the method;
//!    - the canonical URI: the path, normalised (`.` and `..` segments resolved, repeated `/`
//!      collapsed) and then percent-encoded byte by byte, keeping only the unreserved characters
//!      `A-Z a-z 0-9 - _ . ~` and `/`. The path given here is the one that goes on the wire, already
//!      percent-encoded, so encoding it again is the *double encoding* every service but S3 expects:
//!      Lambda's `/functions/arn%3Aaws%3A...` is signed as `/functions/arn%253Aaws%253A...`;
//!    - the canonical query: every name and value percent-encoded the same way (`/` included), the
//!      pairs sorted by encoded name, then by encoded value, joined as `name=value` with `&`;
//!    - the canonical headers: one `name:value\n` line per header, names lowercased and sorted,
//!      values trimmed with inner runs of whitespace collapsed to one space, the values of a repeated
//!      header joined with `,` in the order given. `host` and `x-amz-date` are always signed, as are
//!      `x-amz-security-token` with temporary credentials and, when asked for, `x-amz-content-sha256`;
//!    - the signed headers: the lowercased names, `;`-separated;
//!    - the hex SHA-256 of the body.
//! 2. **String to sign**: `AWS4-HMAC-SHA256`, the timestamp, the credential scope
//!    (`YYYYMMDD/region/service/aws4_request`) and the hex SHA-256 of the canonical request, joined by `\n`.
//! 3. **Signing key**: `kDate = HMAC("AWS4" + secret, YYYYMMDD)`, `kRegion = HMAC(kDate, region)`,
//!    `kService = HMAC(kRegion, service)`, `kSigning = HMAC(kService, "aws4_request")`, all HMAC-SHA256.
//! 4. **Signature**: the hex `HMAC(kSigning, string to sign)`, sent in `Authorization` as
//!    `AWS4-HMAC-SHA256 Credential=<key id>/<scope>, SignedHeaders=<signed headers>, Signature=<hex>`.
//!
//! Not covered: Amazon S3, whose canonical URI is encoded once and never normalised and whose
//! payload hash may be `UNSIGNED-PAYLOAD`; presigned URLs (authentication in the query string);
//! chunked uploads; SigV4a. Services that want the session token added after signing, unsigned,
//! are not covered either: the token is always signed.
//!
//! The module reads no clock: the caller passes the time, normally the host's
//! (`sigv4::amz_date(upshift_sdk::clock::now_millis() / 1000)`).
//!
//! ```
//! use upshift_sdk::sigv4::{Credentials, Request, Signer, amz_date};
//!
//! let credentials = Credentials { access_key_id: "AKID".into(), secret_access_key: "secret".into(), session_token: None };
//! let timestamp = amz_date(1_440_938_160);
//! let body = br#"{"MetricDataQueries":[]}"#;
//! let request = Request {
//!     method: "POST",
//!     host: "monitoring.us-east-1.amazonaws.com",
//!     path: "/",
//!     query: &[],
//!     headers: &[("Content-Type", "application/x-amz-json-1.0"), ("X-Amz-Target", "GraniteServiceVersion20100801.GetMetricData")],
//!     body,
//! };
//! let signer = Signer::new(&credentials, "us-east-1", "monitoring", &timestamp)?;
//! for (name, value) in signer.sign(&request)? {
//!     // Send `name: value` along with the request's own headers, to `request.path_and_query()`.
//! #   let _ = (name, value);
//! }
//! # Ok::<(), upshift_sdk::PluginError>(())
//! ```

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::PluginError;

/// The algorithm's name, as it starts the string to sign and the `Authorization` header.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Headers the signer writes itself; a request that brings its own would sign a second value.
const SET_BY_SIGNER: [&str; 5] =
    ["authorization", "host", "x-amz-content-sha256", "x-amz-date", "x-amz-security-token"];

/// An AWS access key: long-term (no token) or temporary (from STS, with its session token).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

/// Shows the key id only, so that credentials can sit in a logged struct.
impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &self.session_token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The parts of an HTTP request that the signature covers.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `GET`, `POST`, ... as sent.
    pub method: &'a str,
    /// `host` or `host:port`, exactly the request's authority: it is signed as the `host` header,
    /// which `wasi:http` sends from the authority (a guest may not set `Host` itself).
    pub host: &'a str,
    /// The path exactly as it goes on the wire (percent-encoded where needed), without the query.
    pub path: &'a str,
    /// The query parameters, *not* encoded: the signer encodes them, and
    /// [`Request::path_and_query`] gives the wire form that matches the signature.
    pub query: &'a [(&'a str, &'a str)],
    /// The request's own headers to sign (`Content-Type`, `X-Amz-Target`, ...), sent as given.
    /// A name may repeat. `Host` and the `X-Amz-*` headers that the signer adds may not appear.
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

impl Request<'_> {
    /// The path and query to send, e.g. `/?Action=ListUsers&Version=2010-05-08`.
    pub fn path_and_query(&self) -> String {
        let query = canonical_query(self.query);
        let path = if self.path.is_empty() { "/" } else { self.path };
        if query.is_empty() { path.to_string() } else { format!("{path}?{query}") }
    }
}

/// Signs requests with one key, for one region and service, at one time.
#[derive(Debug, Clone)]
pub struct Signer<'a> {
    credentials: &'a Credentials,
    region: &'a str,
    service: &'a str,
    timestamp: &'a str,
    normalize_path: bool,
    content_sha256_header: bool,
}

impl<'a> Signer<'a> {
    /// `timestamp` is the request time as `YYYYMMDDTHHMMSSZ` (UTC), see [`amz_date`]; AWS refuses a
    /// request whose time is more than 5 minutes from its own.
    pub fn new(
        credentials: &'a Credentials,
        region: &'a str,
        service: &'a str,
        timestamp: &'a str,
    ) -> Result<Self, PluginError> {
        check_timestamp(timestamp)?;
        for (what, value) in [("region", region), ("service", service)] {
            if value.is_empty() || !value.bytes().all(is_unreserved) {
                return Err(PluginError::invalid_config(format!(
                    "SigV4 {what} {value:?} must be a non-empty name like \"us-east-1\" or \"lambda\""
                )));
            }
        }
        if credentials.access_key_id.is_empty() || credentials.secret_access_key.is_empty() {
            return Err(PluginError::invalid_config("SigV4 credentials need both an access key id and a secret key"));
        }
        Ok(Signer { credentials, region, service, timestamp, normalize_path: true, content_sha256_header: false })
    }

    /// Also send and sign `X-Amz-Content-Sha256` (the body's hash), which some services require.
    pub fn with_content_sha256_header(mut self) -> Self {
        self.content_sha256_header = true;
        self
    }

    /// Sign the path as given, without resolving `.`, `..` and repeated `/` first.
    pub fn without_path_normalization(mut self) -> Self {
        self.normalize_path = false;
        self
    }

    /// Step 1: the canonical request, for inspection and tests.
    pub fn canonical_request(&self, request: &Request<'_>) -> Result<String, PluginError> {
        Ok(self.canonical(request)?.text)
    }

    /// Step 2: the string to sign, for inspection and tests.
    pub fn string_to_sign(&self, request: &Request<'_>) -> Result<String, PluginError> {
        Ok(self.string_to_sign_of(&self.canonical(request)?))
    }

    /// The headers to add to the request: `X-Amz-Date`, `X-Amz-Security-Token` (temporary
    /// credentials), `X-Amz-Content-Sha256` (when asked for) and `Authorization`, in that order.
    pub fn sign(&self, request: &Request<'_>) -> Result<Vec<(&'static str, String)>, PluginError> {
        let canonical = self.canonical(request)?;
        let key = signing_key(&self.credentials.secret_access_key, self.date(), self.region, self.service);
        let signature = hex(&hmac_sha256(&key, self.string_to_sign_of(&canonical).as_bytes()));
        let mut headers = vec![("X-Amz-Date", self.timestamp.to_string())];
        if let Some(token) = &self.credentials.session_token {
            headers.push(("X-Amz-Security-Token", token.clone()));
        }
        if self.content_sha256_header {
            headers.push(("X-Amz-Content-Sha256", canonical.payload_hash));
        }
        headers.push((
            "Authorization",
            format!(
                "{ALGORITHM} Credential={}/{}, SignedHeaders={}, Signature={signature}",
                self.credentials.access_key_id,
                self.scope(),
                canonical.signed_headers
            ),
        ));
        Ok(headers)
    }

    /// `YYYYMMDD`, the first 8 characters of the checked timestamp.
    fn date(&self) -> &str {
        &self.timestamp[..8]
    }

    fn scope(&self) -> String {
        format!("{}/{}/{}/aws4_request", self.date(), self.region, self.service)
    }

    fn string_to_sign_of(&self, canonical: &Canonical) -> String {
        let hash = hex(&Sha256::digest(canonical.text.as_bytes()));
        format!("{ALGORITHM}\n{}\n{}\n{hash}", self.timestamp, self.scope())
    }

    fn canonical(&self, request: &Request<'_>) -> Result<Canonical, PluginError> {
        check_token("method", request.method)?;
        if request.host.is_empty() || request.host.bytes().any(|b| b <= b' ' || b == b'/' || b == 0x7f) {
            return Err(PluginError::invalid_config(format!("SigV4: host {:?} is not a host[:port]", request.host)));
        }
        if !(request.path.is_empty() || request.path.starts_with('/')) || request.path.contains(['?', '#']) {
            return Err(PluginError::invalid_config(format!(
                "SigV4: path {:?} must start with '/' and hold no '?' or '#' (give query parameters in `query`)",
                request.path
            )));
        }
        let payload_hash = hex(&Sha256::digest(request.body));

        let mut headers: Vec<(String, String)> = Vec::with_capacity(request.headers.len() + 4);
        for (name, value) in request.headers {
            check_token("header name", name)?;
            let name = name.to_ascii_lowercase();
            if SET_BY_SIGNER.contains(&name.as_str()) {
                return Err(PluginError::invalid_config(format!(
                    "SigV4: the request may not carry its own {name:?} header: the signer sets it"
                )));
            }
            headers.push((name, value.split_ascii_whitespace().collect::<Vec<_>>().join(" ")));
        }
        headers.push(("host".into(), request.host.to_string()));
        headers.push(("x-amz-date".into(), self.timestamp.to_string()));
        if let Some(token) = &self.credentials.session_token {
            headers.push(("x-amz-security-token".into(), token.clone()));
        }
        if self.content_sha256_header {
            headers.push(("x-amz-content-sha256".into(), payload_hash.clone()));
        }
        // Stable, so the values of a repeated header keep the order they were given in.
        headers.sort_by(|a, b| a.0.cmp(&b.0));

        let mut canonical_headers = String::new();
        let mut names: Vec<&str> = Vec::new();
        for (name, value) in &headers {
            if names.last() == Some(&name.as_str()) {
                canonical_headers.pop(); // the previous value's '\n'
                canonical_headers.push(',');
            } else {
                names.push(name);
                canonical_headers.push_str(name);
                canonical_headers.push(':');
            }
            canonical_headers.push_str(value);
            canonical_headers.push('\n');
        }
        let signed_headers = names.join(";");

        let path = if self.normalize_path { normalized_path(request.path) } else { request.path.to_string() };
        let path = if path.is_empty() { "/".to_string() } else { path };
        let text = format!(
            "{}\n{}\n{}\n{canonical_headers}\n{signed_headers}\n{payload_hash}",
            request.method,
            uri_encode(&path, true),
            canonical_query(request.query),
        );
        Ok(Canonical { text, signed_headers, payload_hash })
    }
}

/// What step 1 produces, with the parts later steps repeat.
struct Canonical {
    text: String,
    signed_headers: String,
    payload_hash: String,
}

/// Step 3: the key that signs for one day, region and service.
pub fn signing_key(secret_access_key: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac_sha256(format!("AWS4{secret_access_key}").as_bytes(), date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

/// Unix seconds as `YYYYMMDDTHHMMSSZ` (UTC), the timestamp [`Signer::new`] takes. Meant for the
/// years 1970 to 9999; later years get more than four digits, which AWS does not accept.
pub fn amz_date(unix_seconds: u64) -> String {
    let (year, month, day) = civil_from_days(unix_seconds / 86_400);
    let second_of_day = unix_seconds % 86_400;
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

/// The proleptic Gregorian date of a day counted from 1970-01-01: Howard Hinnant's
/// `civil_from_days` ("chrono-Compatible Low-Level Date Algorithms"), for non-negative days.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468; // days from 0000-03-01, so that leap days fall at the end of a year
    let era = z / 146_097;
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// `YYYYMMDDTHHMMSSZ` with a plausible month, day, hour, minute and second.
fn check_timestamp(timestamp: &str) -> Result<(), PluginError> {
    let b = timestamp.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = b.get(range)?;
        digits.iter().all(u8::is_ascii_digit).then(|| digits.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
    };
    let valid = b.len() == 16
        && b[8] == b'T'
        && b[15] == b'Z'
        && number(0..4).is_some()
        && number(4..6).is_some_and(|m| (1..=12).contains(&m))
        && number(6..8).is_some_and(|d| (1..=31).contains(&d))
        && number(9..11).is_some_and(|h| h < 24)
        && number(11..13).is_some_and(|m| m < 60)
        && number(13..15).is_some_and(|s| s <= 60);
    if valid {
        Ok(())
    } else {
        Err(PluginError::invalid_config(format!(
            "SigV4 timestamp {timestamp:?} is not YYYYMMDDTHHMMSSZ (UTC): make it with sigv4::amz_date"
        )))
    }
}

/// An HTTP token (RFC 9110 `tchar`s), as a method or header name must be.
fn check_token(what: &str, value: &str) -> Result<(), PluginError> {
    let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if !value.is_empty() && value.bytes().all(tchar) {
        Ok(())
    } else {
        Err(PluginError::invalid_config(format!("SigV4: {what} {value:?} is not a valid HTTP token")))
    }
}

/// Resolves `.` and `..` segments and drops empty ones, keeping a trailing `/`: the same rules as
/// the AWS Common Runtime (`aws-c-auth`), which the normalisation vectors of the test suite follow.
fn normalized_path(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            _ => segments.push(segment),
        }
    }
    let mut out = String::with_capacity(path.len() + 1);
    out.push('/');
    out.push_str(&segments.join("/"));
    if !segments.is_empty() && path.ends_with('/') {
        out.push('/');
    }
    out
}

/// The sorted, encoded `name=value&...` of the query parameters.
fn canonical_query(query: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(String, String)> =
        query.iter().map(|(name, value)| (uri_encode(name, false), uri_encode(value, false))).collect();
    pairs.sort();
    pairs.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("&")
}

/// `A-Z a-z 0-9 - _ . ~`, the characters SigV4 never percent-encodes.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

/// Percent-encodes every byte but the unreserved ones (and `/` when `keep_slash`), in uppercase hex.
fn uri_encode(text: &str, keep_slash: bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
    out
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts a key of any length");
    mac.update(data);
    let mut out = [0; 32];
    out.copy_from_slice(&mac.finalize().into_bytes());
    out
}

/// Lowercase hex, as SigV4 writes every hash and signature.
fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

#[cfg(test)]
#[path = "sigv4_tests.rs"]
mod tests;
