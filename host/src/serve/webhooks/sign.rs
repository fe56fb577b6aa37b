//! The signature of a webhook body: HMAC-SHA256 (RFC 2104) keyed with the webhook's secret, sent as
//! `X-Upshift-Signature: sha256=<64 lowercase hex digits>`.
//!
//! Written over `sha2` (already a dependency, RFC 4231's test vectors below) rather than pulling the
//! `hmac` crate, whose `digest` features would rebuild the wasmtime tree.

use sha2::{Digest, Sha256};

/// What precedes the hex digest in the header value.
pub const SIGNATURE_PREFIX: &str = "sha256=";
/// SHA-256's block size: keys are padded (or first hashed) to it.
const BLOCK_BYTES: usize = 64;
const INNER_PAD: u8 = 0x36;
const OUTER_PAD: u8 = 0x5c;

/// HMAC-SHA256 of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; BLOCK_BYTES];
    if key.len() > BLOCK_BYTES {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|k| k ^ byte);
    let inner = Sha256::new().chain_update(pad(INNER_PAD)).chain_update(message).finalize();
    Sha256::new().chain_update(pad(OUTER_PAD)).chain_update(inner).finalize().into()
}

/// The `X-Upshift-Signature` value of `body` under `secret`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    format!("{SIGNATURE_PREFIX}{}", hex::encode(hmac_sha256(secret, body)))
}

/// Whether `header` is the signature of `body` under `secret`, compared in constant time (what a
/// receiver does; the tests use it).
pub fn verify_signature(secret: &[u8], body: &[u8], header: &str) -> bool {
    let Some(given) = header.strip_prefix(SIGNATURE_PREFIX).and_then(|h| hex::decode(h).ok()) else {
        return false;
    };
    let expected = hmac_sha256(secret, body);
    given.len() == expected.len() && given.iter().zip(expected).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_rfc_4231_test_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(hex::encode(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn matches_rfc_4231_test_case_6_with_a_key_longer_than_a_block() {
        let mac = hmac_sha256(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First");
        assert_eq!(hex::encode(mac), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    }

    #[test]
    fn a_signature_verifies_only_with_its_secret_and_body() {
        let header = signature(b"s3cret", b"{\"a\":1}");
        assert!(header.starts_with("sha256=") && header.len() == 7 + 64, "{header}");
        assert!(verify_signature(b"s3cret", b"{\"a\":1}", &header));
        assert!(!verify_signature(b"other", b"{\"a\":1}", &header));
        assert!(!verify_signature(b"s3cret", b"{\"a\":2}", &header));
        assert!(!verify_signature(b"s3cret", b"{\"a\":1}", "sha1=00"));
    }
}
