//! A naive RFC 9162 reference implementation for tests: MTH, PATH and PROOF written
//! directly from §2.1.1, §2.1.3.1 and §2.1.4.1 over the full list of leaf hashes.

use super::{Hash, empty_root, node_hash};

/// The largest power of two strictly less than `n` (`n >= 2`).
fn k_of(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// MTH(D[0:n]).
pub fn mth(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = k_of(n);
            node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

/// PATH(m, D[0:n]).
pub fn path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    let n = leaves.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = k_of(n);
    if m < k {
        let mut p = path(m, &leaves[..k]);
        p.push(mth(&leaves[k..]));
        p
    } else {
        let mut p = path(m - k, &leaves[k..]);
        p.push(mth(&leaves[..k]));
        p
    }
}

/// PROOF(m, D[0:n]) = SUBPROOF(m, D[0:n], true).
pub fn proof(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    subproof(m, leaves, true)
}

fn subproof(m: usize, leaves: &[Hash], b: bool) -> Vec<Hash> {
    let n = leaves.len();
    if m == n {
        return if b { Vec::new() } else { vec![mth(leaves)] };
    }
    let k = k_of(n);
    if m <= k {
        let mut p = subproof(m, &leaves[..k], b);
        p.push(mth(&leaves[k..]));
        p
    } else {
        let mut p = subproof(m - k, &leaves[k..], false);
        p.push(mth(&leaves[..k]));
        p
    }
}

/// The Go sumdb stored-hash array, built naively: after leaf n, the MTH of every perfect
/// subtree that leaf completes, smallest first.
pub fn stored(leaves: &[Hash]) -> Vec<Hash> {
    let mut out = Vec::new();
    for n in 0..leaves.len() {
        out.push(leaves[n]);
        let mut size = 2;
        while (n + 1) % size == 0 {
            out.push(mth(&leaves[n + 1 - size..=n]));
            size *= 2;
        }
    }
    out
}
