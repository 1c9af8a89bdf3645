//! DSSE envelopes: parsing never panics, and the canonical JSON of a parsed
//! envelope parses back to the same envelope.
#![no_main]

use claimlog::dsse::Envelope;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(envelope) = Envelope::parse(data) {
        let again =
            Envelope::parse(&envelope.to_canonical_json()).expect("canonical JSON must parse");
        assert_eq!(again, envelope);
    }
});
