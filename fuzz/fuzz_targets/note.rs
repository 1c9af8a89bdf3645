//! Signed notes: parsing never panics, and a parsed note formats to bytes
//! that parse back to the same note.
#![no_main]

use claimlog::note::Note;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(note) = Note::parse(data) {
        let again = Note::parse(&note.to_bytes()).expect("formatted note must parse");
        assert_eq!(again, note);
    }
});
