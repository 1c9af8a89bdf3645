//! tlog-witness add-checkpoint request bodies: parsing never panics, and a
//! parsed request formats to bytes that parse back to the same request.
#![no_main]

use claimlog::witness_wire::AddCheckpointRequest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = AddCheckpointRequest::parse(data) {
        let again =
            AddCheckpointRequest::parse(&request.to_bytes()).expect("formatted request must parse");
        assert_eq!(again, request);
    }
});
