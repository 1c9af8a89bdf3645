//! Ed25519 strict verification (RFC 8032 §5.1.7 with ed25519-dalek 2.x's
//! `verify_strict` rules) with a key prepared once and reused, and with the
//! final comparison of many signatures done at once.
//!
//! In scope: [`PreparedKey`], a public key decompressed once;
//! [`PreparedKey::verify_strict`], which accepts exactly the signatures that
//! `ed25519_dalek::VerifyingKey::verify_strict` accepts; and its two halves,
//! [`PreparedKey::challenge`] (the costly part: `[S]B - [k]A`) and
//! [`Challenge::holds`] / [`holds_all`] (compare with R), so that a caller
//! with many signatures in hand compares them all for one field inversion.
//!
//! Out of scope: signing, cofactored batch verification (NOT equivalent:
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
//! Here checks 1 and 4 are done as stated, and 2 and 3 follow from them:
//! - If `R'.compress() == R_bytes` then `R_bytes` is the canonical encoding
//!   of `R'`, so it decompresses (check 2) and `R = R'`; if it does not
//!   decompress, check 4 fails too. So check 2 needs no work of its own.
//! - Given check 4, `R` is of small order iff `R_bytes` is the canonical
//!   encoding of one of the eight points of small order ([`SMALL_ORDER`]);
//!   the non-canonical encodings that decompress to such points never equal a
//!   compression, so check 4 rejects them anyway. So check 3 on R is eight
//!   byte comparisons instead of a decompression (a field square root).
//! - Check 3 on A is done once per key.
//!
//! `R'.compress()` costs a field inversion; [`holds_all`] compresses many
//! points with one inversion and three multiplications each (Montgomery's
//! trick, `EdwardsPoint::compress_batch_alloc`), with results identical to
//! compressing each. curve25519-dalek 5 is named directly for that (and for
//! its faster double-base multiplication); ed25519-dalek 2 keeps its own
//! curve25519-dalek 4, and the two meet only as bytes.

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

/// The canonical encodings of the eight points of small order (the
/// 8-torsion subgroup), in the order of curve25519-dalek's `EIGHT_TORSION`
/// (`EIGHT_TORSION[i].compress()`, checked by a test): y = 1 (the identity),
/// y = -1 (order 2), y = 0 with either sign of x (order 4), and the two y of
/// the points of order 8 with either sign.
pub const SMALL_ORDER: [[u8; 32]; 8] = {
    /// One y of the points of order 8 (little endian).
    const Y8: [u8; 32] = [
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98,
        0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53,
        0xfc, 0x05,
    ];
    /// The other: p - Y8.
    const MINUS_Y8: [u8; 32] = [
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67,
        0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac,
        0x03, 0x7a,
    ];
    /// An encoding with the sign bit (x odd) set.
    const fn negative_x(mut y: [u8; 32]) -> [u8; 32] {
        y[31] |= 0x80;
        y
    }
    let zero = [0u8; 32];
    let mut one = [0u8; 32];
    one[0] = 1;
    // p - 1 = 2^255 - 20.
    let mut minus_one = [0xffu8; 32];
    minus_one[0] = 0xec;
    minus_one[31] = 0x7f;
    [
        one,
        MINUS_Y8,
        negative_x(zero),
        Y8,
        minus_one,
        negative_x(Y8),
        zero,
        negative_x(MINUS_Y8),
    ]
};

/// An Ed25519 public key prepared for many strict verifications: the key as
/// given (its bytes are hashed into every challenge), its negated point, and
/// whether it is of small order.
///
/// About 360 bytes; no tables (BENCHMARKS.md "Prepared Ed25519 keys": a
/// per-key precomputed table did not pay for its ~20 KiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreparedKey {
    key: VerifyingKey,
    minus_a: EdwardsPoint,
    small_order: bool,
}

impl PreparedKey {
    /// Prepares a key from its 32-byte encoding; fails exactly when
    /// `VerifyingKey::from_bytes` does.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<PreparedKey, Ed25519Error> {
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| Ed25519Error::InvalidKey)?;
        PreparedKey::try_new(&key)
    }

    /// Prepares an already decompressed key.
    pub fn new(key: &VerifyingKey) -> PreparedKey {
        match PreparedKey::try_new(key) {
            Ok(k) => k,
            // Both curve25519-dalek versions decompress with the same
            // arithmetic, and `key` came out of one of them.
            Err(_) => unreachable!("a VerifyingKey decompresses"),
        }
    }

    fn try_new(key: &VerifyingKey) -> Result<PreparedKey, Ed25519Error> {
        let a = CompressedEdwardsY(*key.as_bytes())
            .decompress()
            .ok_or(Ed25519Error::InvalidKey)?;
        Ok(PreparedKey {
            key: *key,
            minus_a: -a,
            small_order: a.is_small_order(),
        })
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
    /// module doc for why the checks are equivalent).
    pub fn verify_strict(&self, msg: &[u8], sig: &Signature) -> bool {
        self.challenge(msg, sig).holds()
    }

    /// The costly half of [`PreparedKey::verify_strict`]: checks 1 and 3 and
    /// `R' = [S]B - [k]A`. The signature verifies iff the result
    /// [`holds`](Challenge::holds) (or [`holds_all`] says so).
    pub fn challenge(&self, msg: &[u8], sig: &Signature) -> Challenge {
        let r_bytes = sig.r_bytes();
        // Check 1: S < l.
        let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(*sig.s_bytes())) else {
            return Challenge(None);
        };
        // Check 3.
        if self.small_order || SMALL_ORDER.contains(r_bytes) {
            return Challenge(None);
        }
        let h: [u8; 64] = Sha512::new()
            .chain_update(r_bytes)
            .chain_update(self.key.as_bytes())
            .chain_update(msg)
            .finalize()
            .into();
        let k = Scalar::from_bytes_mod_order_wide(&h);
        let computed = EdwardsPoint::vartime_double_scalar_mul_basepoint(&k, &self.minus_a, &s);
        Challenge(Some((computed, *r_bytes)))
    }
}

impl From<&VerifyingKey> for PreparedKey {
    fn from(key: &VerifyingKey) -> PreparedKey {
        PreparedKey::new(key)
    }
}

/// A strict verification with its costly half done
/// ([`PreparedKey::challenge`]): `[S]B - [k]A` and the signature's R bytes,
/// or already failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Challenge(Option<(EdwardsPoint, [u8; 32])>);

impl Challenge {
    /// A challenge that fails (the tests mix it into batches).
    #[cfg(test)]
    pub(crate) const FAILED: Challenge = Challenge(None);

    /// Whether the signature verifies: check 4, `R'.compress() == R_bytes`.
    /// One field inversion; [`holds_all`] shares it among many.
    pub fn holds(&self) -> bool {
        self.0
            .is_some_and(|(computed, r)| computed.compress().as_bytes() == &r)
    }
}

/// [`Challenge::holds`] of each challenge, in order, with one field
/// inversion for all of them.
pub fn holds_all(challenges: &[Challenge]) -> Vec<bool> {
    let points: Vec<EdwardsPoint> = challenges.iter().filter_map(|c| c.0.map(|c| c.0)).collect();
    let mut compressed = EdwardsPoint::compress_batch_alloc(&points).into_iter();
    challenges
        .iter()
        .map(|c| match c.0 {
            Some((_, r)) => compressed
                .next()
                .is_some_and(|computed| computed.as_bytes() == &r),
            None => false,
        })
        .collect()
}

#[cfg(test)]
mod tests;
