//! Release indexes: the JSON format, read from a file next to the spec or from an `http://` URL.
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
    if url.starts_with("https://") {
        return Err(http("https is not built into this upshift; serve the index over http:// or use a file".into()));
    }
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
    fn relative_files_resolve_against_the_spec_folder() {
        assert_eq!(locate("r.json", Path::new("/specs")), IndexSource::File("/specs/r.json".into()));
        assert_eq!(
            locate("http://127.0.0.1:1/r", Path::new("/specs")),
            IndexSource::Http("http://127.0.0.1:1/r".into())
        );
    }
}
