//! Where a store lives: a SQLite file (the embedded default) or a PostgreSQL database, named by a
//! `postgres://` (or `postgresql://`) URL given to `--state` or `UPSHIFT_STATE`.

use std::path::{Path, PathBuf};

/// A store's location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file.
    File(PathBuf),
    /// A PostgreSQL database, by URL. The URL carries no password (`PGPASSWORD` does), so it can be
    /// shown in any message.
    Postgres(String),
}

impl Location {
    /// Reads a `--state` value: a `postgres://` or `postgresql://` URL, otherwise a file path.
    pub fn parse(text: &std::ffi::OsStr) -> Location {
        match text.to_str() {
            Some(s) if is_postgres_url(s) => Location::Postgres(s.to_string()),
            _ => Location::File(PathBuf::from(text)),
        }
    }

    /// The SQLite file, if the store is one.
    pub fn file(&self) -> Option<&Path> {
        match self {
            Location::File(p) => Some(p),
            Location::Postgres(_) => None,
        }
    }
}

fn is_postgres_url(s: &str) -> bool {
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

impl From<&Path> for Location {
    fn from(p: &Path) -> Self {
        Location::parse(p.as_os_str())
    }
}

impl From<&PathBuf> for Location {
    fn from(p: &PathBuf) -> Self {
        Location::parse(p.as_os_str())
    }
}

impl From<PathBuf> for Location {
    fn from(p: PathBuf) -> Self {
        Location::parse(p.as_os_str())
    }
}

impl From<&Location> for Location {
    fn from(l: &Location) -> Self {
        l.clone()
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::File(p) => write!(f, "{}", p.display()),
            Location::Postgres(url) => f.write_str(&without_password(url)),
        }
    }
}

/// `url` with any password in its user part replaced by `***` (a password there is refused when
/// the store is opened, but the refusal itself must not repeat it).
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user, host)) if user.contains(':') => {
            let name = user.split_once(':').map_or(user, |(n, _)| n);
            format!("{scheme}://{name}:***@{host}{tail}")
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_postgres_and_everything_else_a_file() {
        assert_eq!(Location::from(Path::new("postgres://u@h/db")), Location::Postgres("postgres://u@h/db".into()));
        assert_eq!(Location::from(Path::new("postgresql://u@h/db")), Location::Postgres("postgresql://u@h/db".into()));
        assert_eq!(Location::from(Path::new("./postgres.db")), Location::File("./postgres.db".into()));
    }

    #[test]
    fn a_password_is_never_shown() {
        let l = Location::parse("postgres://app:s3cret@db:5432/upshift".as_ref());
        assert_eq!(l.to_string(), "postgres://app:***@db:5432/upshift");
        let l = Location::parse("postgres://app@db/upshift".as_ref());
        assert_eq!(l.to_string(), "postgres://app@db/upshift");
    }
}
