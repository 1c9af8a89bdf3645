//! Claim statements (in-toto Statement payloads): strict parsing and
//! validation never panic, and are deterministic.
#![no_main]

use claimlog::claim::parse_and_validate;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let first = parse_and_validate(data);
    assert_eq!(parse_and_validate(data), first);
});
