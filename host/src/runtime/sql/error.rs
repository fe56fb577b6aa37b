//! Why a plugin's SQL call failed, as a typed error: each names the plugin, the database and (where
//! there is one) the statement, and becomes the `plugin-error` the plugin sees with the kind and
//! retryability the contract gives it.

use std::time::Duration;

use crate::runtime::bindings::{ErrorKind, WitPluginError};

/// Most characters of a statement quoted in an error: enough to recognise it, never a whole script.
pub const MAX_QUOTED_STATEMENT_CHARS: usize = 120;

/// A statement as errors quote it: whitespace runs folded to one space, cut to
/// [`MAX_QUOTED_STATEMENT_CHARS`], control characters and quotes escaped (it comes from a plugin).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quoted(String);

impl Quoted {
    pub fn new(statement: &str) -> Self {
        // Enough of the text to fill the quote even once runs of whitespace are folded.
        let head: String = statement.chars().take(MAX_QUOTED_STATEMENT_CHARS * 4).collect();
        let folded = head.split_whitespace().collect::<Vec<_>>().join(" ");
        let mut cut: String = folded.chars().take(MAX_QUOTED_STATEMENT_CHARS).collect();
        if cut.len() < folded.len() || head.len() < statement.len() {
            cut.push('…');
        }
        Quoted(cut)
    }
}

impl std::fmt::Display for Quoted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// Why one use of the `sql` capability failed.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    #[error(
        "connection {connection:?} is not granted to plugin {plugin}; grant it in the spec with `grants.sql = [\"{connection}\"]`"
    )]
    NotGranted { plugin: String, connection: String },

    #[error("database {database:?} is not of the form connection/database")]
    BadName { database: String },

    #[error("connection {connection:?} has no database {name:?}")]
    NoSuchDatabase { connection: String, name: String },

    /// The authorizer (or SQLite's own read-only and defensive switches) refused the statement.
    #[error("plugin {plugin}: SQL statement {statement} refused on {database}: {reason}")]
    Refused { plugin: String, database: String, statement: Quoted, reason: String },

    #[error("plugin {plugin}: SQL statement {statement} on {database} was stopped after the plugin's {}s time limit", limit.as_secs_f64())]
    TimeLimit { plugin: String, database: String, statement: Quoted, limit: Duration },

    #[error(
        "plugin {plugin}: query {statement} on {database} returned more than {limit} rows; add a LIMIT or aggregate"
    )]
    TooManyRows { plugin: String, database: String, statement: Quoted, limit: usize },

    #[error(
        "plugin {plugin}: query {statement} on {database} returned more than {limit} bytes, the limit on one SQL \
         result (MAX_SQL_RESULT_BYTES, at most the plugin's memory); select fewer or smaller values"
    )]
    TooManyBytes { plugin: String, database: String, statement: Quoted, limit: usize },

    #[error(
        "plugin {plugin}: SQL statement {statement} on {database} made a value larger than {limit} bytes, the \
         limit on one SQL value (SQLITE_LIMIT_LENGTH)"
    )]
    ValueTooBig { plugin: String, database: String, statement: Quoted, limit: usize },

    #[error(
        "plugin {plugin}: SQL statement {statement} on {database} is {bytes} bytes, more than the {limit}-byte \
         limit on one statement or script (MAX_SQL_STATEMENT_BYTES)"
    )]
    StatementTooLong { plugin: String, database: String, statement: Quoted, bytes: usize, limit: usize },

    #[error(
        "plugin {plugin}: more than {limit} databases are in a transaction at once (MAX_OPEN_SQL_DATABASES); \
         commit or roll back before opening {database}"
    )]
    TooManyOpen { plugin: String, database: String, limit: usize },

    #[error("database {database} is locked (waited {} ms): {message}", waited.as_millis())]
    Locked { database: String, waited: Duration, message: String },

    #[error("database {database} is corrupt or not a database: {message}")]
    Corrupt { database: String, message: String },

    #[error("cannot open database {database}{hint}: {message}")]
    CannotOpen { database: String, hint: &'static str, message: String },

    #[error("cannot create the folder of {database}: {message}")]
    Folder { database: String, message: String },

    #[error("{database}: {message}")]
    Sqlite { database: String, message: String },

    /// A PostgreSQL session's role could reach outside its database: the host serves none of it.
    #[error(
        "the host refuses to serve database {database}: {problems}; give the connection a role of its own \
         without these powers (README: \"PostgreSQL connections\")"
    )]
    Unconfined { database: String, problems: String },

    #[error("database {database}: its PostgreSQL server cannot be reached or ended the session: {message}")]
    Server { database: String, message: String },

    #[error(
        "plugin {plugin}: the host closed its session on {database} earlier in this call ({why}) with the plugin's \
         transaction open, which was rolled back; the database opens again at the plugin's next call"
    )]
    Closed { plugin: String, database: String, why: String },

    #[error("{database}: {message}{} in SQL statement {statement}", if code.is_empty() { String::new() } else { format!(" (SQLSTATE {code})") })]
    Postgres { database: String, statement: Quoted, code: String, message: String },
}

impl SqlError {
    /// The contract's kind for this failure: what is refused is `denied`, what cannot be reached is
    /// `unavailable`, a broken database is a `conflict`.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SqlError::NotGranted { .. }
            | SqlError::Refused { .. }
            | SqlError::TimeLimit { .. }
            | SqlError::TooManyRows { .. }
            | SqlError::TooManyBytes { .. }
            | SqlError::ValueTooBig { .. }
            | SqlError::StatementTooLong { .. }
            | SqlError::TooManyOpen { .. }
            | SqlError::Unconfined { .. } => ErrorKind::Denied,
            SqlError::BadName { .. } | SqlError::NoSuchDatabase { .. } => ErrorKind::InvalidConfig,
            SqlError::Locked { .. }
            | SqlError::CannotOpen { .. }
            | SqlError::Folder { .. }
            | SqlError::Server { .. }
            | SqlError::Closed { .. } => ErrorKind::Unavailable,
            SqlError::Corrupt { .. } => ErrorKind::Conflict,
            SqlError::Sqlite { .. } | SqlError::Postgres { .. } => ErrorKind::Internal,
        }
    }

    /// Only a lock, or a server that could not be reached, may be gone when the engine retries.
    pub fn retryable(&self) -> bool {
        matches!(self, SqlError::Locked { .. } | SqlError::Server { .. })
    }
}

impl From<SqlError> for WitPluginError {
    fn from(e: SqlError) -> Self {
        WitPluginError { kind: e.kind(), retryable: e.retryable(), message: e.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quoted_statement_is_one_escaped_line_cut_to_size() {
        let q = Quoted::new("SELECT\n  \"x\"\t FROM t");
        assert_eq!(q.to_string(), r#""SELECT \"x\" FROM t""#);
        let long = Quoted::new(&"a".repeat(1000)).to_string();
        assert!(long.chars().count() <= MAX_QUOTED_STATEMENT_CHARS + 3 && long.ends_with("…\""), "{long}");
        assert_eq!(Quoted::new("x\u{1b}[31m").to_string(), r#""x\u{1b}[31m""#);
    }

    #[test]
    fn refusals_and_limits_are_denied_and_only_locks_retry() {
        let refused = SqlError::Refused {
            plugin: "p".into(),
            database: "shards/a".into(),
            statement: Quoted::new("ATTACH 'x' AS y"),
            reason: "no".into(),
        };
        assert_eq!(refused.kind(), ErrorKind::Denied);
        assert!(!refused.retryable());
        let locked =
            SqlError::Locked { database: "d".into(), waited: Duration::from_millis(5), message: "busy".into() };
        assert_eq!(WitPluginError::from(locked).kind, ErrorKind::Unavailable);
    }
}
