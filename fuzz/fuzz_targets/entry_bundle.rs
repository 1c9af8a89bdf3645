//! Entry bundles: decoding never panics, and a decoded bundle re-encodes to
//! exactly the input (no trailing bytes are accepted).
#![no_main]

use claimlog::tiles::{decode_bundle, encode_bundle};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first two bytes pick the expected count, 0..=257: the valid
    // 1..=256 and one invalid count on either side.
    let Some(([hi, lo], bytes)) = data.split_first_chunk::<2>() else {
        return;
    };
    let count = usize::from(u16::from_be_bytes([*hi, *lo])) % 258;
    if let Ok(entries) = decode_bundle(bytes, count) {
        assert_eq!(entries.len(), count);
        assert_eq!(
            encode_bundle(&entries).expect("decoded entries re-encode"),
            bytes
        );
    }
});
