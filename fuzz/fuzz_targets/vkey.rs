//! Verifier keys: a vkey that parses is canonical (lowercase ID, strict
//! base64), so it formats back to the input.
#![no_main]

use claimlog::note::VerifierKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(key) = VerifierKey::parse(text) {
        assert_eq!(key.to_string(), text);
    }
});
