//! Signing keys and the trusted-keys file.
//!
//! A secret key file holds one line, `upshift-ed25519-secret:<64 hex digits>`. A public key is
//! written `ed25519:<64 hex digits>`. The trusted-keys file holds one public key per line, optionally
//! followed by a name; blank lines and lines starting with `#` are ignored.

use std::path::{Path, PathBuf};

use ed25519_dalek::{SigningKey, VerifyingKey};

/// Environment variable naming the trusted-keys file; `--trusted-keys` overrides it.
pub const TRUSTED_KEYS_ENV: &str = "UPSHIFT_TRUSTED_KEYS";
const SECRET_PREFIX: &str = "upshift-ed25519-secret:";
const PUBLIC_PREFIX: &str = "ed25519:";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: {what}", path.display())]
    Malformed { path: PathBuf, what: String },
    #[error("{} already exists; choose another --out or remove it first", path.display())]
    Exists { path: PathBuf },
    #[error("no randomness for a new key: {0}")]
    Random(String),
}

/// The `$UPSHIFT_TRUSTED_KEYS` file, else `<config dir>/upshift/trusted_keys`.
pub fn default_trusted_keys_path() -> PathBuf {
    if let Some(p) = std::env::var_os(TRUSTED_KEYS_ENV) {
        return PathBuf::from(p);
    }
    dirs::config_dir().unwrap_or_else(|| PathBuf::from(".")).join("upshift").join("trusted_keys")
}

#[derive(Clone)]
pub struct SecretKey(SigningKey);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey({})", self.public())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(pub(crate) VerifyingKey);

impl std::fmt::Display for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{PUBLIC_PREFIX}{}", hex::encode(self.0.as_bytes()))
    }
}

impl PublicKey {
    pub fn parse(text: &str) -> Option<Self> {
        let hex_digits = text.trim().strip_prefix(PUBLIC_PREFIX)?;
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(hex_digits, &mut bytes).ok()?;
        VerifyingKey::from_bytes(&bytes).ok().map(PublicKey)
    }
}

impl SecretKey {
    pub fn generate() -> Result<Self, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(SecretKey(SigningKey::from_bytes(&seed)))
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    pub(crate) fn signing(&self) -> &SigningKey {
        &self.0
    }

    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io { path: path.to_path_buf(), source })?;
        let malformed = || KeyError::Malformed {
            path: path.to_path_buf(),
            what: format!("not a secret key (expected one line `{SECRET_PREFIX}<64 hex digits>`)"),
        };
        let hex_digits = text.trim().strip_prefix(SECRET_PREFIX).ok_or_else(malformed)?;
        let mut seed = [0u8; 32];
        hex::decode_to_slice(hex_digits, &mut seed).map_err(|_| malformed())?;
        Ok(SecretKey(SigningKey::from_bytes(&seed)))
    }

    /// Writes the secret key to `path` (owner-only permissions) and its public key to `path.pub`;
    /// refuses to overwrite either.
    pub fn save(&self, path: &Path) -> Result<PathBuf, KeyError> {
        let public_path = PathBuf::from(format!("{}.pub", path.display()));
        for p in [path, public_path.as_path()] {
            if p.exists() {
                return Err(KeyError::Exists { path: p.to_path_buf() });
            }
        }
        let secret = format!("{SECRET_PREFIX}{}\n", hex::encode(self.0.to_bytes()));
        write_private(path, secret.as_bytes()).map_err(|source| KeyError::Io { path: path.to_path_buf(), source })?;
        std::fs::write(&public_path, format!("{}\n", self.public()))
            .map_err(|source| KeyError::Io { path: public_path.clone(), source })?;
        Ok(public_path)
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// The public keys this host trusts, with their names.
#[derive(Debug, Clone, Default)]
pub struct TrustedKeys {
    pub keys: Vec<(PublicKey, String)>,
    /// Where they were read from, for messages.
    pub source: Option<PathBuf>,
}

impl TrustedKeys {
    /// Reads the trusted-keys file; a missing file means no key is trusted.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(TrustedKeys { keys: vec![], source: Some(path.to_path_buf()) });
            }
            Err(source) => return Err(KeyError::Io { path: path.to_path_buf(), source }),
        };
        let mut keys = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, name) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            let key = PublicKey::parse(key).ok_or_else(|| KeyError::Malformed {
                path: path.to_path_buf(),
                what: format!("line {}: not a public key (expected `{PUBLIC_PREFIX}<64 hex digits> [name]`)", n + 1),
            })?;
            keys.push((key, name.trim().to_string()));
        }
        Ok(TrustedKeys { keys, source: Some(path.to_path_buf()) })
    }

    pub fn name_of(&self, key: &PublicKey) -> Option<&str> {
        self.keys.iter().find(|(k, _)| k == key).map(|(_, n)| n.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_files() {
        let dir = tempfile::tempdir().unwrap();
        let key = SecretKey::generate().unwrap();
        let public_path = key.save(&dir.path().join("k")).unwrap();
        assert_eq!(SecretKey::load(&dir.path().join("k")).unwrap().public(), key.public());
        let public = std::fs::read_to_string(&public_path).unwrap();
        assert_eq!(PublicKey::parse(&public), Some(key.public()));
        assert!(matches!(key.save(&dir.path().join("k")), Err(KeyError::Exists { .. })));
    }

    #[test]
    fn trusted_keys_file_skips_comments_and_names_keys() {
        let dir = tempfile::tempdir().unwrap();
        let key = SecretKey::generate().unwrap();
        let path = dir.path().join("trusted");
        std::fs::write(&path, format!("# ops team\n\n{} release-bot\n", key.public())).unwrap();
        let trusted = TrustedKeys::load(&path).unwrap();
        assert_eq!(trusted.name_of(&key.public()), Some("release-bot"));
        std::fs::write(&path, "ed25519:zz\n").unwrap();
        assert!(TrustedKeys::load(&path).unwrap_err().to_string().contains("line 1"));
        assert!(TrustedKeys::load(&dir.path().join("missing")).unwrap().keys.is_empty());
    }
}
