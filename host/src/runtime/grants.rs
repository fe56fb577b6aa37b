//! What an operator grants one plugin beyond the defaults: folders (WASI preopens, read-only unless
//! write is granted) and SQL connections. Resolved from the spec; the runtime gives exactly these.

use std::path::PathBuf;

/// A host folder a plugin may read (and write, if `write`), seen inside the sandbox at `guest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileGrant {
    pub host: PathBuf,
    pub guest: String,
    pub write: bool,
}

/// The database engines a connection can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SqlDriver {
    Sqlite,
}

/// A named group of databases, each addressed by plugins as `connection/database`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlConnection {
    pub name: String,
    pub driver: SqlDriver,
    /// `(database name, location)`, in the spec's order.
    pub databases: Vec<(String, PathBuf)>,
}

/// Everything granted to one plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    pub files: Vec<FileGrant>,
    pub sql: Vec<SqlConnection>,
}
