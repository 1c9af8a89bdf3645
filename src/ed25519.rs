//! Ed25519 strict verification (RFC 8032 §5.1.7 with ed25519-dalek 2.x's
//! `verify_strict` rules) with a key prepared once and reused.
//!
//! In scope: [`PreparedKey`], a public key decompressed once, and
//! [`PreparedKey::verify_strict`], which accepts exactly the signatures that
//! `ed25519_dalek::VerifyingKey::verify_strict` accepts, for less work:
//! - the key is decompressed (a field square root) once per key, not per
//!   signature;
//! - the final check compares points projectively instead of compressing
//!   `[s]B - [k]A` (which costs a field inversion) and comparing bytes.
//!
//! Out of scope: signing, batch verification (cofactored, so NOT equivalent:
//! BENCHMARKS.md "Perf branch" point 1), Ed25519ph/ctx, and the Go-compatible
//! non-strict `verify` that signed notes use (`crate::note`).
//!
//! `verify_strict` (ed25519-dalek 2.2, without `legacy_compatibility`)
//! accepts a signature `(R_bytes, S)` on `M` under `A_bytes` iff:
//! 1. `S` is canonical (`S < l`);
//! 2. `R_bytes` decompresses to a point `R`;
//! 3. neither `R` nor `A` is of small order;
//! 4. with `k = SHA-512(R_bytes || A_bytes || M) mod l` and
//!    `R' = [S]B - [k]A`: `R'.compress() == R_bytes`.
//!
//! Point 4 is replaced here by "`R_bytes` is a canonical encoding and
//! `R' == R` as points", which is equivalent:
//! - `compress` always yields the canonical encoding of a point, and distinct
//!   points have distinct canonical encodings. So if `R_bytes` is canonical,
//!   `R'.compress() == R_bytes` iff `R' == decompress(R_bytes)`; if it is not,
//!   `R'.compress() == R_bytes` is never true, and we reject too.
//! - An encoding is non-canonical in exactly two ways (curve25519-dalek's
//!   `decompress` accepts both): its y coordinate is `>= p`, which we test
//!   directly; or `x = 0` with the sign bit set. `x = 0` only for `y = 1`
//!   (the identity) and `y = -1` (the point of order 2), both of small order,
//!   so check 3 already rejects them, in dalek and here; the tests cover both.

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha512};

/// Why 32 bytes are not an Ed25519 public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Ed25519Error {
    /// The bytes do not decompress to a curve point (the same keys
    /// `VerifyingKey::from_bytes` refuses). Keys of small order are accepted
    /// here, as there, and every signature under them fails.
    #[error("public key is not an Ed25519 curve point")]
    InvalidKey,
}

/// An Ed25519 public key prepared for many strict verifications: the key as
/// given (its bytes are hashed into every challenge) with its point, and
/// whether it is of small order.
///
/// About 200 bytes; no tables (BENCHMARKS.md "Prepared Ed25519 keys": a
/// per-key precomputed table did not pay for its ~20 KiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreparedKey {
    key: VerifyingKey,
    small_order: bool,
}

impl PreparedKey {
    /// Prepares a key from its 32-byte encoding; fails exactly when
    /// `VerifyingKey::from_bytes` does.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<PreparedKey, Ed25519Error> {
        VerifyingKey::from_bytes(bytes)
            .map(|k| PreparedKey::new(&k))
            .map_err(|_| Ed25519Error::InvalidKey)
    }

    /// Prepares an already decompressed key.
    pub fn new(key: &VerifyingKey) -> PreparedKey {
        PreparedKey {
            key: *key,
            small_order: key.is_weak(),
        }
    }

    /// The key as an ed25519-dalek key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// The key's 32 bytes, exactly as given.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.key.as_bytes()
    }

    /// Whether the key is of small order (every signature under it fails).
    pub fn is_weak(&self) -> bool {
        self.small_order
    }

    /// Whether `sig` is a valid signature on `msg` under this key, with
    /// exactly the acceptance set of `VerifyingKey::verify_strict` (see the
    /// module doc for why the checks below are equivalent).
    pub fn verify_strict(&self, msg: &[u8], sig: &Signature) -> bool {
        // Check 1: S < l.
        let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(*sig.s_bytes())) else {
            return false;
        };
        let r_bytes = sig.r_bytes();
        // Half of point 4: a non-canonical y can never equal a compression.
        if !y_is_canonical(r_bytes) {
            return false;
        }
        // Checks 2 and 3.
        let Some(r) = CompressedEdwardsY(*r_bytes).decompress() else {
            return false;
        };
        if self.small_order || r.is_small_order() {
            return false;
        }
        // Check 4 as a point comparison (projective, no inversion).
        let k = Scalar::from_hash(
            Sha512::new()
                .chain_update(r_bytes)
                .chain_update(self.key.as_bytes())
                .chain_update(msg),
        );
        let minus_a = -self.key.to_edwards();
        EdwardsPoint::vartime_double_scalar_mul_basepoint(&k, &minus_a, &s) == r
    }
}

impl From<&VerifyingKey> for PreparedKey {
    fn from(key: &VerifyingKey) -> PreparedKey {
        PreparedKey::new(key)
    }
}

/// Whether the y coordinate of an encoded point (the low 255 bits, little
/// endian) is below p = 2^255 - 19. The values from p to 2^255 - 1 are
/// 0xed..0xff, 0xff x 30, 0x7f (sign bit aside).
fn y_is_canonical(bytes: &[u8; 32]) -> bool {
    !(bytes[31] & 0x7f == 0x7f && bytes[1..31].iter().all(|&b| b == 0xff) && bytes[0] >= 0xed)
}

#[cfg(test)]
mod tests;
