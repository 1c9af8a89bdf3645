//! Checkpoint bodies: only canonical text parses, so formatting a parsed
//! checkpoint gives back exactly the input.
#![no_main]

use claimlog::checkpoint::Checkpoint;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(checkpoint) = Checkpoint::parse(text) {
        assert_eq!(checkpoint.to_string(), text);
    }
});
