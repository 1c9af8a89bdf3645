//! Deterministic submitter keys and envelopes: the tests and the load
//! generator derive the same key set from a seed, so the server's allowlist
//! can be printed once (`claimlog-load --print-allowlist`) and reused.

use claimlog::dsse::{Envelope, PAYLOAD_TYPE_IN_TOTO};
use claimlog::note::{KeyName, KeyType, VerifierKey};
use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};

/// An allowlisted submitter: an Ed25519 key and its note verifier key.
pub struct Submitter {
    key: SigningKey,
    vkey: VerifierKey,
}

impl Submitter {
    /// Submitter number `i` of the key set derived from `seed`: the secret
    /// key is SHA-256("claimlog-test-submitter" ‖ 0 ‖ seed ‖ 0 ‖ i).
    pub fn derive(seed: &str, i: usize) -> Submitter {
        let mut h = Sha256::new();
        h.update(b"claimlog-test-submitter\0");
        h.update(seed.as_bytes());
        h.update(b"\0");
        h.update(i.to_string().as_bytes());
        let key = SigningKey::from_bytes(&h.finalize().into());
        let vkey = vkey_of(&key, &format!("submitter-{i}"));
        Submitter { key, vkey }
    }

    /// The verifier key string for the server's allowlist.
    pub fn vkey(&self) -> String {
        self.vkey.to_string()
    }

    /// The Ed25519 signing key.
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// A DSSE envelope of `payload` with payloadType in-toto, signed by this
    /// submitter.
    pub fn sign(&self, payload: &[u8]) -> Envelope {
        Envelope::sign(PAYLOAD_TYPE_IN_TOTO, payload, &self.key)
    }
}

/// The note verifier key (type 0x01) of `key` under `name`.
///
/// # Panics
/// If `name` is not a valid key name (callers pass fixed ASCII names).
pub fn vkey_of(key: &SigningKey, name: &str) -> VerifierKey {
    // Fixed ASCII names and a 32-byte Ed25519 key always form a valid vkey.
    let name = KeyName::new(name).expect("valid key name");
    VerifierKey::new(name, KeyType::Ed25519, key.verifying_key().as_bytes())
        .expect("an Ed25519 public key is 32 bytes")
}

/// `n` submitters derived from `seed`.
pub fn submitters(seed: &str, n: usize) -> Vec<Submitter> {
    (0..n).map(|i| Submitter::derive(seed, i)).collect()
}

/// A unique in-toto Statement (JSON) for entry `i` of run `run`, padded with
/// `padding` bytes in its predicate.
pub fn statement(run: &str, i: u64, padding: usize) -> Vec<u8> {
    let digest = hex::encode(Sha256::digest(format!("{run}/{i}")));
    let value = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": format!("{run}/{i}"), "digest": {"sha256": digest}}],
        "predicateType": "https://claimlog.dev/test/v1",
        "predicate": {"padding": "x".repeat(padding)},
    });
    serde_json::to_vec(&value).unwrap_or_default()
}

/// The predicate padding that makes the envelopes of run `run` about
/// `target_len` bytes long (the exact length varies with the digits of `i`).
pub fn padding_for(run: &str, target_len: usize) -> usize {
    let probe = Submitter::derive("padding-probe", 0);
    let unpadded = probe.sign(&statement(run, 0, 0)).to_canonical_json().len();
    // Base64 turns 3 payload bytes into 4.
    target_len.saturating_sub(unpadded) * 3 / 4
}

/// The canonical JSON of the envelope for entry `i` of run `run`, with
/// `padding` bytes of predicate padding, signed by `submitter`.
pub fn envelope_json(submitter: &Submitter, run: &str, i: u64, padding: usize) -> Vec<u8> {
    submitter
        .sign(&statement(run, i, padding))
        .to_canonical_json()
}
