//! tlog-witness response bodies (cosignature lines, and the 409 size body):
//! parsing never panics and round-trips through formatting.
#![no_main]

use claimlog::witness_wire::{
    format_cosignatures, format_size_body, parse_cosignatures, parse_size_body,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(sigs) = parse_cosignatures(data) {
        let again = parse_cosignatures(format_cosignatures(&sigs).as_bytes())
            .expect("formatted lines must parse");
        assert_eq!(again, sigs);
    }
    if let Ok(size) = parse_size_body(data) {
        assert_eq!(format_size_body(size).as_bytes(), data);
    }
});
