//! API tokens of `upshift serve`: a name, a role and the sha256 of the token. The token itself is
//! never stored; it is shown once when it is created (`upshift token create`).

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};

/// A token as stored: who it names and what it may do (the role's name, see `serve::auth::Role`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredToken {
    pub name: String,
    pub role: String,
}

impl Store {
    /// Records a token by the sha256 (hex) of its value; a name already taken is refused.
    pub fn create_token(&mut self, name: &str, role: &str, hash: &str, at: i64) -> Result<(), StoreError> {
        let taken = |e: &rusqlite::Error| matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation);
        match self.conn.execute(
            "INSERT INTO tokens (name, role, hash, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![name, role, hash, at],
        ) {
            Ok(_) => Ok(()),
            Err(e) if taken(&e) => Err(StoreError::TokenExists { name: name.to_string(), path: self.path.clone() }),
            Err(e) => Err(self.sql(e)),
        }
    }

    /// The token whose value hashes to `hash`, if any.
    pub fn token_by_hash(&self, hash: &str) -> Result<Option<StoredToken>, StoreError> {
        self.conn
            .query_row("SELECT name, role FROM tokens WHERE hash = ?1", [hash], |r| {
                Ok(StoredToken { name: r.get(0)?, role: r.get(1)? })
            })
            .optional()
            .map_err(|e| self.sql(e))
    }

    /// How many tokens the store holds.
    pub fn token_count(&self) -> Result<usize, StoreError> {
        self.conn
            .query_row("SELECT COUNT(*) FROM tokens", [], |r| r.get::<_, i64>(0))
            .map(|n| n as usize)
            .map_err(|e| self.sql(e))
    }
}
