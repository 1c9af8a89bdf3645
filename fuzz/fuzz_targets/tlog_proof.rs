//! tlog-proof files: parsing never panics, a parsed proof formats to bytes
//! that parse back to the same proof, and verifying it against a fixed
//! policy (the test log and witness of spec/vectors/proof) never panics.
#![no_main]

use std::sync::LazyLock;

use claimlog::merkle::Hash;
use claimlog::policy::Policy;
use claimlog::proof_bundle::ProofBundle;
use libfuzzer_sys::fuzz_target;

static POLICY: LazyLock<Policy> = LazyLock::new(|| {
    let text = "log research.example/log+2742cbff+AfgBC0EUa9jUugZ1p6sDBACFIt0FS+UQ0FazL1Lk+Vor\n\
        witness W research.example/witness-ed25519+1d551a50+BBbgeyTOL2VRTP9BF/Xnl4EWyEXOlBqatLRSMxxcIZSY\n\
        quorum W\n";
    Policy::parse(text.as_bytes()).expect("fixed policy parses")
});

fuzz_target!(|data: &[u8]| {
    if let Ok(proof) = ProofBundle::parse(data) {
        let again = ProofBundle::parse(&proof.to_bytes()).expect("formatted proof must parse");
        assert_eq!(again, proof);
        let _ = proof.verify(&Hash::default(), &POLICY);
        let _ = proof.verify_entry(proof.extra(), &POLICY);
    }
});
