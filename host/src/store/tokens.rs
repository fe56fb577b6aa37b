//! API tokens of `upshift serve`: a name, a role and the sha256 of the token. The token itself is
//! never stored; it is shown once when it is created (`upshift token create`).

use super::db::p;
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
        match self.db().execute(
            "INSERT INTO tokens (name, role, hash, created_at) VALUES (?1, ?2, ?3, ?4)",
            p![name, role, hash, at],
        ) {
            Ok(_) => Ok(()),
            Err(e) if e.is_unique_violation() => {
                Err(StoreError::TokenExists { name: name.to_string(), store: self.location.clone() })
            }
            Err(e) => Err(self.err(e)),
        }
    }

    /// The token whose value hashes to `hash`, if any.
    pub fn token_by_hash(&self, hash: &str) -> Result<Option<StoredToken>, StoreError> {
        self.db()
            .query_opt("SELECT name, role FROM tokens WHERE hash = ?1", p![hash])
            .and_then(|r| r.map(|r| Ok(StoredToken { name: r.text(0)?, role: r.text(1)? })).transpose())
            .map_err(|e| self.err(e))
    }

    /// How many tokens the store holds.
    pub fn token_count(&self) -> Result<usize, StoreError> {
        self.db()
            .query_opt("SELECT COUNT(*) FROM tokens", &[])
            .and_then(|r| r.map_or(Ok(0), |r| r.int(0)))
            .map(|n| n.max(0) as usize)
            .map_err(|e| self.err(e))
    }
}
