//! Detached signatures: `<component>.sig` holds the component's sha256, the signer's public key and
//! an Ed25519 signature over `upshift-plugin-signature-v1` + the digest.

use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, Verifier};
use serde::{Deserialize, Serialize};

use super::keys::{PublicKey, SecretKey, TrustedKeys};
use crate::runtime::Digest;

const CONTEXT: &[u8] = b"upshift-plugin-signature-v1\n";

/// The contents of a `.sig` file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureFile {
    pub sha256: String,
    pub public_key: String,
    pub signature: String,
}

/// Why a plugin file is not trusted.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error(
        "plugin {plugin} is not signed (no {}); sign it with `upshift plugin sign {plugin} --key KEY` and trust the key, \
         or pass --allow-unsigned for local development",
        sig.display()
    )]
    Unsigned { plugin: String, sig: PathBuf },
    #[error("plugin {plugin}: its signature file {} is unreadable: {message}", sig.display())]
    Malformed { plugin: String, sig: PathBuf, message: String },
    #[error(
        "plugin {plugin}: the signature is for sha256 {signed} but the file has {actual}: the file changed after signing"
    )]
    DigestMismatch { plugin: String, signed: String, actual: String },
    #[error(
        "plugin {plugin}: the signature does not verify against its key {key}: the signature or the file was tampered with"
    )]
    BadSignature { plugin: String, key: String },
    #[error(
        "plugin {plugin} is signed by {key}, which this host does not trust; add that key to {} \
         (or pass --trusted-keys), or pass --allow-unsigned for local development",
        trusted.display()
    )]
    Untrusted { plugin: String, key: String, trusted: PathBuf },
}

/// Where the signature of `component` lives.
pub fn signature_path(component: &Path) -> PathBuf {
    PathBuf::from(format!("{}.sig", component.display()))
}

fn message(digest: &Digest) -> Vec<u8> {
    let mut m = CONTEXT.to_vec();
    m.extend_from_slice(digest.to_hex().as_bytes());
    m
}

/// Signs the component bytes `bytes`; the caller writes the result to [`signature_path`].
pub fn sign(bytes: &[u8], key: &SecretKey) -> SignatureFile {
    let digest = Digest::of(bytes);
    let signature = key.signing().sign(&message(&digest));
    SignatureFile {
        sha256: digest.to_hex(),
        public_key: key.public().to_string(),
        signature: hex::encode(signature.to_bytes()),
    }
}

/// Checks the signature of the component at `path` with bytes `bytes` against `trusted`; returns
/// the signer's key and its name in the trusted-keys file.
pub fn verify(path: &Path, bytes: &[u8], trusted: &TrustedKeys) -> Result<(PublicKey, String), TrustError> {
    verify_digest(path, Digest::of(bytes), trusted)
}

/// [`verify`] for the file at `path` whose sha256 is `actual`.
pub fn verify_digest(path: &Path, actual: Digest, trusted: &TrustedKeys) -> Result<(PublicKey, String), TrustError> {
    let plugin = path.display().to_string();
    let sig = signature_path(path);
    let text = match std::fs::read_to_string(&sig) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(TrustError::Unsigned { plugin, sig }),
        Err(e) => return Err(TrustError::Malformed { plugin, sig, message: e.to_string() }),
    };
    let malformed = |message: String| TrustError::Malformed { plugin: plugin.clone(), sig: sig.clone(), message };
    let file: SignatureFile = serde_json::from_str(&text).map_err(|e| malformed(e.to_string()))?;
    if Digest::parse(&file.sha256) != Some(actual) {
        return Err(TrustError::DigestMismatch { plugin, signed: file.sha256, actual: actual.to_hex() });
    }
    let key =
        PublicKey::parse(&file.public_key).ok_or_else(|| malformed("`public_key` is not an ed25519 key".into()))?;
    let mut raw = [0u8; 64];
    hex::decode_to_slice(&file.signature, &mut raw)
        .map_err(|_| malformed("`signature` is not 128 hex digits".into()))?;
    key.0
        .verify(&message(&actual), &Signature::from_bytes(&raw))
        .map_err(|_| TrustError::BadSignature { plugin: plugin.clone(), key: key.to_string() })?;
    match trusted.name_of(&key) {
        Some(name) => Ok((key, name.to_string())),
        None => Err(TrustError::Untrusted {
            plugin,
            key: key.to_string(),
            trusted: trusted.source.clone().unwrap_or_default(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, PathBuf, SecretKey, TrustedKeys) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.wasm");
        std::fs::write(&path, b"component bytes").unwrap();
        let key = SecretKey::generate().unwrap();
        let trusted = TrustedKeys { keys: vec![(key.public(), "me".into())], source: Some(dir.path().join("t")) };
        (dir, path, key, trusted)
    }

    fn write_sig(path: &Path, sig: &SignatureFile) {
        std::fs::write(signature_path(path), serde_json::to_string(sig).unwrap()).unwrap();
    }

    #[test]
    fn a_signed_file_verifies_against_a_trusted_key() {
        let (_d, path, key, trusted) = setup();
        write_sig(&path, &sign(&std::fs::read(&path).unwrap(), &key));
        let (signer, name) = verify(&path, &std::fs::read(&path).unwrap(), &trusted).unwrap();
        assert_eq!((signer, name.as_str()), (key.public(), "me"));
    }

    #[test]
    fn unsigned_changed_tampered_and_untrusted_are_told_apart() {
        let (_d, path, key, trusted) = setup();
        let bytes = std::fs::read(&path).unwrap();
        assert!(matches!(verify(&path, &bytes, &trusted), Err(TrustError::Unsigned { .. })));

        let mut sig = sign(&bytes, &key);
        write_sig(&path, &sig);
        assert!(matches!(verify(&path, b"other bytes", &trusted), Err(TrustError::DigestMismatch { .. })));

        sig.sha256 = Digest::of(b"other bytes").to_hex();
        write_sig(&path, &sig);
        assert!(matches!(verify(&path, b"other bytes", &trusted), Err(TrustError::BadSignature { .. })));

        let stranger = SecretKey::generate().unwrap();
        write_sig(&path, &sign(&bytes, &stranger));
        let err = verify(&path, &bytes, &trusted).unwrap_err();
        assert!(matches!(err, TrustError::Untrusted { .. }), "{err}");
        assert!(err.to_string().contains(&stranger.public().to_string()));
    }
}
