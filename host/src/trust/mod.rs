//! Plugin trust: Ed25519 signatures over a component's sha256, kept in a detached `<file>.sig`
//! next to the component, and the set of public keys this host trusts.
//!
//! Why detached rather than a custom section: a spec pins a component by the sha256 of its exact
//! bytes. A signature inside the component would change those bytes, so signing would have to come
//! before pinning and verification would have to strip the section first. A detached file leaves
//! the component untouched: the digest in the spec, `upshift plugin inspect` and the signature all
//! speak of the same bytes.

mod keys;
mod signature;

pub use keys::{KeyError, PublicKey, SecretKey, TRUSTED_KEYS_ENV, TrustedKeys, default_trusted_keys_path};
pub use signature::{SignatureFile, TrustError, sign, signature_path, verify, verify_digest};

/// How a host treats plugin files: trusted keys, and whether unsigned or untrusted plugins may run
/// anyway (local development; recorded in the rollout's audit trail).
#[derive(Debug, Clone, Default)]
pub struct TrustPolicy {
    pub keys: TrustedKeys,
    pub allow_unsigned: bool,
    /// `allow_unsigned` comes from `upshift run --dev` (the audit trail names it), not from
    /// `--allow-unsigned`.
    pub dev: bool,
}
