//! Access control of the API: bearer tokens with a role. A token is `upshift_` and 64 hex digits of
//! randomness; only its sha256 is kept (in the store, or in the server config). A request names its
//! caller by the token's name, which is the actor the journal records; the token itself is never
//! logged or journaled.

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::store::{Store, StoreError};

/// What a token may do; each role may do everything the ones before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read: every `GET`.
    Viewer,
    /// Read, and approve, pause, resume or abort rollouts.
    Operator,
    /// Everything, submitting rollouts included.
    Admin,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "operator" => Some(Role::Operator),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// Who made a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's name (or [`OPEN_CALLER`] on an open loopback server).
    pub name: String,
    pub role: Role,
}

/// The caller of every request on a loopback server that has no token at all.
pub const OPEN_CALLER: &str = "anonymous (loopback, no tokens configured)";
/// How a token starts: recognisable in a leaked file, and never confused with a name.
pub const TOKEN_PREFIX: &str = "upshift_";
/// The longest name a token may have.
pub const MAX_TOKEN_NAME: usize = 64;

/// The sha256 (hex) of a token's value: what is stored.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new random token.
pub fn generate() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(format!("{TOKEN_PREFIX}{}", hex::encode(bytes)))
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(
        "token name {0:?} is not allowed: use 1 to {MAX_TOKEN_NAME} letters, digits, '-', '_' or '.' (it is the actor the journal names)"
    )]
    BadName(String),
    #[error("cannot create a token: the system's randomness failed ({0})")]
    Random(getrandom::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Creates a token named `name` with `role` in `store` and returns its value (shown once).
pub fn create(store: &mut Store, name: &str, role: Role) -> Result<String, TokenError> {
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if name.is_empty() || name.len() > MAX_TOKEN_NAME || !name.chars().all(ok) {
        return Err(TokenError::BadName(name.to_string()));
    }
    let token = generate().map_err(TokenError::Random)?;
    store.create_token(name, role.name(), &hash(&token), crate::rollout::now_ms())?;
    Ok(token)
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// No token, or one this server does not know (401).
    Unauthenticated(&'static str),
    /// A known token whose role may not do this (403).
    Forbidden { name: String, role: Role, needs: Role },
}

/// Finds the caller of a request from its `Authorization` header value (if any), given the tokens
/// of the server config (`configured`: name, role, hash) and of the store. `open` is a loopback
/// server with no token at all: every request is [`OPEN_CALLER`], an admin.
pub fn authenticate(
    header: Option<&str>,
    open: bool,
    configured: &[(String, Role, String)],
    store: &Store,
) -> Result<Result<Caller, Denied>, StoreError> {
    if open {
        return Ok(Ok(Caller { name: OPEN_CALLER.to_string(), role: Role::Admin }));
    }
    let Some(token) = header.and_then(|h| h.strip_prefix("Bearer ")).map(str::trim) else {
        return Ok(Err(Denied::Unauthenticated("this server requires a token: send `Authorization: Bearer <token>`")));
    };
    let digest = hash(token);
    if let Some((name, role, _)) = configured.iter().find(|(_, _, h)| h.eq_ignore_ascii_case(&digest)) {
        return Ok(Ok(Caller { name: name.clone(), role: *role }));
    }
    Ok(match store.token_by_hash(&digest)? {
        Some(t) => match Role::parse(&t.role) {
            Some(role) => Ok(Caller { name: t.name, role }),
            None => Err(Denied::Unauthenticated("this token's role is unknown to this server; create a new token")),
        },
        None => Err(Denied::Unauthenticated("unknown token; `upshift token create` makes one")),
    })
}

/// Whether `caller` may do what needs `needs`.
pub fn authorize(caller: &Caller, needs: Role) -> Result<(), Denied> {
    if caller.role >= needs {
        Ok(())
    } else {
        Err(Denied::Forbidden { name: caller.name.clone(), role: caller.role, needs })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_includes_the_ones_before_it() {
        let op = Caller { name: "o".into(), role: Role::Operator };
        assert!(authorize(&op, Role::Viewer).is_ok());
        assert!(authorize(&op, Role::Operator).is_ok());
        assert!(matches!(authorize(&op, Role::Admin), Err(Denied::Forbidden { needs: Role::Admin, .. })));
    }

    #[test]
    fn only_the_hash_of_a_token_is_stored_and_it_finds_its_caller() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path().join("s.db")).unwrap();
        let token = create(&mut store, "ci", Role::Operator).unwrap();
        assert!(token.starts_with(TOKEN_PREFIX) && token.len() == TOKEN_PREFIX.len() + 64);
        let bytes = std::fs::read(dir.path().join("s.db")).unwrap();
        let wal = std::fs::read(dir.path().join("s.db-wal")).unwrap_or_default();
        let needle = token.as_bytes();
        assert!(!bytes.windows(needle.len()).chain(wal.windows(needle.len())).any(|w| w == needle));
        let header = format!("Bearer {token}");
        let caller = authenticate(Some(&header), false, &[], &store).unwrap().unwrap();
        assert_eq!(caller, Caller { name: "ci".into(), role: Role::Operator });
        assert!(authenticate(Some("Bearer upshift_nope"), false, &[], &store).unwrap().is_err());
        assert!(authenticate(None, false, &[], &store).unwrap().is_err());
        assert!(matches!(
            create(&mut store, "ci", Role::Admin),
            Err(TokenError::Store(StoreError::TokenExists { .. }))
        ));
        assert!(matches!(create(&mut store, "a b", Role::Admin), Err(TokenError::BadName(_))));
    }
}
