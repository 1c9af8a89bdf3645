//! tlog-proof files: parsing never panics, and a parsed proof formats to
//! bytes that parse back to the same proof.
#![no_main]

use claimlog::proof_bundle::ProofBundle;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(proof) = ProofBundle::parse(data) {
        let again = ProofBundle::parse(&proof.to_bytes()).expect("formatted proof must parse");
        assert_eq!(again, proof);
    }
});
