//! The two databases a store can live in, behind one small interface: SQLite (a file, the embedded
//! default) and PostgreSQL (a server several `upshift serve` replicas share).
//!
//! The store's queries are written once, in the SQL both understand, with `?N` placeholders (turned
//! into PostgreSQL's `$N` once per statement); the few that cannot be shared pick per dialect with
//! [`Db::dialect`]. Values cross as [`P`] (parameters) and [`Row`] (results): integers and text,
//! the only types the schema uses.
//!
//! A write transaction ([`Db::write`]) takes the store's single write lock first (SQLite's `BEGIN
//! IMMEDIATE`; on PostgreSQL a transaction-scoped advisory lock), so writers queue rather than fail,
//! and journal entries become visible in `seq` order on both (see `tail.rs`).

use std::collections::HashMap;

use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use rusqlite::types::{ToSqlOutput, ValueRef};

/// Which database a store lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// The advisory lock every PostgreSQL write transaction of a store takes (an arbitrary constant:
/// "upshift" in ASCII), serializing writers the way SQLite's write lock does.
const WRITE_LOCK_KEY: i64 = 0x0075_7073_6869_6674;

/// A failure of the database itself.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{}", postgres_message(.0))]
    Postgres(#[from] postgres::Error),
    #[error("column {column}: {message}")]
    Type { column: usize, message: String },
}

impl DbError {
    /// A unique or primary-key constraint refused the write.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            DbError::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => f.code == rusqlite::ErrorCode::ConstraintViolation,
            DbError::Postgres(e) => e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION),
            _ => false,
        }
    }
}

/// PostgreSQL's own message (severity, text, detail) rather than the driver's "db error".
fn postgres_message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{}: {} ({detail})", db.severity(), db.message()),
            None => format!("{}: {}", db.severity(), db.message()),
        },
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text = format!("{text}: {s}");
                source = s.source();
            }
            text
        }
    }
}

/// A query parameter.
#[derive(Debug, Clone, Copy)]
pub enum P<'a> {
    Null,
    Int(i64),
    Text(&'a str),
}

impl From<i64> for P<'_> {
    fn from(v: i64) -> Self {
        P::Int(v)
    }
}
impl From<u32> for P<'_> {
    fn from(v: u32) -> Self {
        P::Int(i64::from(v))
    }
}
impl<'a> From<&'a str> for P<'a> {
    fn from(v: &'a str) -> Self {
        P::Text(v)
    }
}
impl<'a> From<&'a String> for P<'a> {
    fn from(v: &'a String) -> Self {
        P::Text(v)
    }
}
impl<'a, T: Into<P<'a>>> From<Option<T>> for P<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(P::Null, Into::into)
    }
}

/// Parameters for a query: `p![a, b, c]`.
macro_rules! p {
    ($($x:expr),* $(,)?) => { &[$($crate::store::db::P::from($x)),*][..] };
}
pub(super) use p;

impl rusqlite::ToSql for P<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            P::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            P::Int(v) => ToSqlOutput::Borrowed(ValueRef::Integer(*v)),
            P::Text(v) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
        })
    }
}

impl ToSql for P<'_> {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match (self, ty) {
            (P::Null, _) => Ok(IsNull::Yes),
            (P::Int(v), &Type::INT4) => i32::try_from(*v)?.to_sql(ty, out),
            (P::Int(v), _) => v.to_sql(ty, out),
            // PostgreSQL's text holds no NUL byte; refusing would let a plugin's text fail a commit.
            (P::Text(v), _) if v.contains('\0') => v.replace('\0', "\u{FFFD}").to_sql(ty, out),
            (P::Text(v), _) => v.to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::INT8 | Type::INT4 | Type::TEXT | Type::VARCHAR)
    }

    to_sql_checked!();
}

/// A value read back.
#[derive(Debug, Clone, PartialEq)]
enum V {
    Null,
    Int(i64),
    Text(String),
}

/// One result row.
#[derive(Debug, Clone)]
pub struct Row(Vec<V>);

impl Row {
    fn at(&self, i: usize) -> Result<&V, DbError> {
        self.0.get(i).ok_or_else(|| DbError::Type { column: i, message: "no such column".into() })
    }

    pub fn opt_int(&self, i: usize) -> Result<Option<i64>, DbError> {
        match self.at(i)? {
            V::Null => Ok(None),
            V::Int(v) => Ok(Some(*v)),
            V::Text(_) => Err(DbError::Type { column: i, message: "text where an integer belongs".into() }),
        }
    }

    pub fn int(&self, i: usize) -> Result<i64, DbError> {
        self.opt_int(i)?.ok_or_else(|| DbError::Type { column: i, message: "null where an integer belongs".into() })
    }

    pub fn opt_text(&self, i: usize) -> Result<Option<String>, DbError> {
        match self.at(i)? {
            V::Null => Ok(None),
            V::Text(v) => Ok(Some(v.clone())),
            V::Int(_) => Err(DbError::Type { column: i, message: "an integer where text belongs".into() }),
        }
    }

    pub fn text(&self, i: usize) -> Result<String, DbError> {
        self.opt_text(i)?.ok_or_else(|| DbError::Type { column: i, message: "null where text belongs".into() })
    }

    fn from_sqlite(r: &rusqlite::Row<'_>, columns: usize) -> rusqlite::Result<Row> {
        let mut values = Vec::with_capacity(columns);
        for i in 0..columns {
            values.push(match r.get_ref(i)? {
                ValueRef::Null => V::Null,
                ValueRef::Integer(v) => V::Int(v),
                ValueRef::Text(t) => V::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Real(_) | ValueRef::Blob(_) => {
                    return Err(rusqlite::Error::InvalidColumnType(i, "value".into(), r.get_ref(i)?.data_type()));
                }
            });
        }
        Ok(Row(values))
    }

    fn from_postgres(r: &postgres::Row) -> Result<Row, DbError> {
        let mut values = Vec::with_capacity(r.len());
        for (i, column) in r.columns().iter().enumerate() {
            let v = match *column.type_() {
                Type::INT8 => r.try_get::<_, Option<i64>>(i)?.map(V::Int),
                Type::INT4 => r.try_get::<_, Option<i32>>(i)?.map(|v| V::Int(v.into())),
                Type::INT2 => r.try_get::<_, Option<i16>>(i)?.map(|v| V::Int(v.into())),
                Type::TEXT | Type::VARCHAR | Type::NAME => r.try_get::<_, Option<String>>(i)?.map(V::Text),
                ref other => {
                    return Err(DbError::Type { column: i, message: format!("unexpected type {other}") });
                }
            };
            values.push(v.unwrap_or(V::Null));
        }
        Ok(Row(values))
    }
}

/// A PostgreSQL session with its prepared statements (keyed by the store's SQL text).
pub struct PgSession {
    pub client: postgres::Client,
    prepared: HashMap<&'static str, postgres::Statement>,
}

impl PgSession {
    pub fn new(client: postgres::Client) -> Self {
        PgSession { client, prepared: HashMap::new() }
    }

    fn statement(&mut self, sql: &'static str) -> Result<postgres::Statement, DbError> {
        if let Some(s) = self.prepared.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(&dollar_placeholders(sql))?;
        self.prepared.insert(sql, s.clone());
        Ok(s)
    }
}

/// `?N` placeholders as PostgreSQL's `$N` (outside quoted text).
fn dollar_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            quoted = !quoted;
        }
        if c == '?' && !quoted && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

/// An open database.
pub enum Db {
    Sqlite(rusqlite::Connection),
    Postgres(super::postgres::Pooled),
}

impl Db {
    pub fn dialect(&self) -> Dialect {
        match self {
            Db::Sqlite(_) => Dialect::Sqlite,
            Db::Postgres(_) => Dialect::Postgres,
        }
    }

    /// The rows `sql` returns.
    pub fn query(&mut self, sql: &'static str, params: &[P<'_>]) -> Result<Vec<Row>, DbError> {
        match self {
            Db::Sqlite(conn) => {
                let mut stmt = conn.prepare_cached(sql)?;
                let columns = stmt.column_count();
                let rows =
                    stmt.query_map(rusqlite::params_from_iter(params.iter()), |r| Row::from_sqlite(r, columns))?;
                Ok(rows.collect::<Result<_, _>>()?)
            }
            Db::Postgres(pg) => {
                let stmt = pg.statement(sql)?;
                let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
                pg.client.query(&stmt, &params)?.iter().map(Row::from_postgres).collect()
            }
        }
    }

    /// The first row `sql` returns, if any.
    pub fn query_opt(&mut self, sql: &'static str, params: &[P<'_>]) -> Result<Option<Row>, DbError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// Runs `sql`; returns how many rows it changed.
    pub fn execute(&mut self, sql: &'static str, params: &[P<'_>]) -> Result<u64, DbError> {
        match self {
            Db::Sqlite(conn) => {
                Ok(conn.prepare_cached(sql)?.execute(rusqlite::params_from_iter(params.iter()))? as u64)
            }
            Db::Postgres(pg) => {
                let stmt = pg.statement(sql)?;
                let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
                Ok(pg.client.execute(&stmt, &params)?)
            }
        }
    }

    /// Runs several statements without parameters (a migration).
    pub fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        match self {
            Db::Sqlite(conn) => Ok(conn.execute_batch(sql)?),
            Db::Postgres(pg) => Ok(pg.client.batch_execute(sql)?),
        }
    }

    /// Begins a write transaction holding the store's write lock; it rolls back unless committed.
    pub fn write(&mut self) -> Result<Tx<'_>, DbError> {
        match self {
            Db::Sqlite(conn) => conn.execute_batch("BEGIN IMMEDIATE")?,
            Db::Postgres(pg) => {
                // One round trip for both.
                let begun = pg.client.batch_execute(&format!("BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})"));
                if let Err(e) = begun {
                    let _ = pg.client.batch_execute("ROLLBACK");
                    return Err(e.into());
                }
            }
        }
        Ok(Tx { db: self, open: true })
    }
}

/// A write transaction: queries run inside it; dropped without [`Tx::commit`], it rolls back.
pub struct Tx<'a> {
    db: &'a mut Db,
    open: bool,
}

impl Tx<'_> {
    pub fn query(&mut self, sql: &'static str, params: &[P<'_>]) -> Result<Vec<Row>, DbError> {
        self.db.query(sql, params)
    }

    pub fn query_opt(&mut self, sql: &'static str, params: &[P<'_>]) -> Result<Option<Row>, DbError> {
        self.db.query_opt(sql, params)
    }

    pub fn execute(&mut self, sql: &'static str, params: &[P<'_>]) -> Result<u64, DbError> {
        self.db.execute(sql, params)
    }

    pub fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.db.batch(sql)
    }

    /// Commits; a commit that fails is rolled back (on drop).
    pub fn commit(mut self) -> Result<(), DbError> {
        self.db.batch("COMMIT")?;
        self.open = false;
        Ok(())
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.db.batch("ROLLBACK");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_dollars_outside_quotes() {
        assert_eq!(dollar_placeholders("SELECT ?1, '?2', ?10 WHERE a = ?"), "SELECT $1, '?2', $10 WHERE a = ?");
    }
}
