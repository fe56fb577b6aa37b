//! Release indexes: the JSON format, read from a file next to the spec or from an `http://` or
//! `https://` URL (rustls, with the Mozilla root certificates built in).
//!
//! ```json
//! {"releases": [
//!   {"version": "1.4.2", "published": "2026-11-01T10:00:00Z", "yanked": false},
//!   {"version": "1.5.0-rc.1"}
//! ]}
//! ```
//! `version` is required; `published` (RFC 3339 with an offset) and `yanked` (default false) are
//! optional; other fields are ignored, so an index may carry more.

use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// How long fetching an HTTP index may take, connection included.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest index read, file or HTTP: an index is a list of versions, not a download.
pub const MAX_INDEX_BYTES: u64 = 8 << 20;

/// One release as an index lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<Timestamp>,
    #[serde(default)]
    pub yanked: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseIndex {
    pub releases: Vec<Release>,
}

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("release index {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("release index {url}: {message}")]
    Http { url: String, message: String },
    #[error("release index {source_name} is larger than {MAX_INDEX_BYTES} bytes")]
    TooLarge { source_name: String },
    #[error(
        "release index {source_name} is not a release index ({message}); expected {{\"releases\": [{{\"version\": \"1.4.2\", \"published\": \"2026-11-01T10:00:00Z\"}}]}}"
    )]
    Format { source_name: String, message: String },
}

/// Where an index is read from: `location` as the spec writes it, `folder` the spec's folder.
pub fn locate(location: &str, folder: &Path) -> IndexSource {
    if location.starts_with("http://") || location.starts_with("https://") {
        IndexSource::Http(location.to_string())
    } else {
        IndexSource::File(folder.join(location))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexSource {
    File(PathBuf),
    Http(String),
}

impl std::fmt::Display for IndexSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IndexSource::File(p) => write!(f, "{}", p.display()),
            IndexSource::Http(u) => f.write_str(u),
        }
    }
}

/// Reads and parses the index at `source`.
pub fn read(source: &IndexSource) -> Result<ReleaseIndex, IndexError> {
    let text = match source {
        IndexSource::File(path) => {
            let read = |source| IndexError::Read { path: path.clone(), source };
            let len = std::fs::metadata(path).map_err(read)?.len();
            if len > MAX_INDEX_BYTES {
                return Err(IndexError::TooLarge { source_name: source.to_string() });
            }
            std::fs::read_to_string(path).map_err(read)?
        }
        IndexSource::Http(url) => fetch(url)?,
    };
    parse(&source.to_string(), &text)
}

/// Parses index JSON; `source_name` names it in errors.
pub fn parse(source_name: &str, text: &str) -> Result<ReleaseIndex, IndexError> {
    serde_json::from_str(text)
        .map_err(|e| IndexError::Format { source_name: source_name.to_string(), message: e.to_string() })
}

fn fetch(url: &str) -> Result<String, IndexError> {
    let http = |message: String| IndexError::Http { url: url.to_string(), message };
    let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(HTTP_TIMEOUT)).build().into();
    let mut response = agent.get(url).header("Accept", "application/json").call().map_err(|e| http(e.to_string()))?;
    response.body_mut().with_config().limit(MAX_INDEX_BYTES).read_to_string().map_err(|e| match e {
        ureq::Error::BodyExceedsLimit(_) => IndexError::TooLarge { source_name: url.to_string() },
        other => http(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_format_parses_with_optional_fields() {
        let idx = parse(
            "t",
            r#"{"releases":[{"version":"1.4.2","published":"2026-11-01T10:00:00Z","yanked":false},{"version":"2.0.0-rc.1","notes":"x"}]}"#,
        )
        .unwrap();
        assert_eq!(idx.releases[0].published, Some("2026-11-01T10:00:00Z".parse().unwrap()));
        assert_eq!(idx.releases[1], Release { version: "2.0.0-rc.1".into(), published: None, yanked: false });
    }

    #[test]
    fn a_malformed_index_says_what_is_expected() {
        let err = parse("r.json", r#"{"versions":[]}"#).unwrap_err().to_string();
        assert!(err.contains("r.json") && err.contains("expected {\"releases\""), "{err}");
    }

    #[test]
    fn an_https_index_speaks_tls_and_a_failed_handshake_names_the_url() {
        // A server that answers plain HTTP: the TLS client must refuse it, not read its body.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("https://{}/releases.json", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            use std::io::{Read, Write};
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n{\"releases\":[]}");
        });
        let err = fetch(&url).unwrap_err();
        assert!(matches!(&err, IndexError::Http { url: u, .. } if *u == url), "{err}");
        server.join().unwrap();
    }

    #[test]
    fn relative_files_resolve_against_the_spec_folder() {
        assert_eq!(locate("r.json", Path::new("/specs")), IndexSource::File("/specs/r.json".into()));
        assert_eq!(
            locate("http://127.0.0.1:1/r", Path::new("/specs")),
            IndexSource::Http("http://127.0.0.1:1/r".into())
        );
    }
}
