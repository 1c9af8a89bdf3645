//! The log entry (ours, DESIGN.md §2 "Log entry"): the exact bytes stored as a
//! Merkle leaf and in entry bundles.
//!
//! An entry is the submitted DSSE envelope in its canonical encoding
//! ([`Envelope::to_canonical_json`]) plus the time the log integrated it:
//!
//! ```text
//! {"envelope":<canonical envelope JSON>,"integratedTime":<POSIX seconds>}
//! ```
//!
//! with no whitespace, keys in this order and a canonical decimal. The dedup
//! key of an envelope is SHA-256 of its canonical encoding, so resubmitting
//! the same envelope (however its JSON was spaced) finds the first entry.

use sha2::{Digest, Sha256};

use crate::dsse::{DsseError, Envelope};
use crate::tiles::MAX_ENTRY_LEN;

const PREFIX: &[u8] = b"{\"envelope\":";
const TIME_KEY: &[u8] = b",\"integratedTime\":";

/// Why stored or fetched entry bytes are not a log entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// The entry would not fit an entry bundle (65,535 bytes; HTTP 413).
    #[error("entry is {0} bytes, more than the limit of {MAX_ENTRY_LEN}")]
    TooLarge(usize),
    /// Not the entry framing, or not in canonical form.
    #[error("malformed log entry: {0}")]
    Malformed(&'static str),
    /// The envelope inside is malformed.
    #[error(transparent)]
    Envelope(#[from] DsseError),
}

/// A parsed log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// The submitted envelope.
    pub envelope: Envelope,
    /// When the log integrated it, POSIX seconds.
    pub integrated_time: u64,
}

impl LogEntry {
    /// Encodes the entry; fails if it is too large for an entry bundle.
    pub fn encode(envelope_json: &[u8], integrated_time: u64) -> Result<Vec<u8>, EntryError> {
        // The decimal is written on the stack, not into a `String` of its own.
        let mut digits = [0u8; 20];
        let time = crate::checkpoint::format_decimal(integrated_time, &mut digits);
        let len = PREFIX.len() + envelope_json.len() + TIME_KEY.len() + time.len() + 1;
        if len > MAX_ENTRY_LEN {
            return Err(EntryError::TooLarge(len));
        }
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(PREFIX);
        out.extend_from_slice(envelope_json);
        out.extend_from_slice(TIME_KEY);
        out.extend_from_slice(time);
        out.push(b'}');
        Ok(out)
    }

    /// Parses entry bytes, accepting only the exact canonical form.
    pub fn parse(bytes: &[u8]) -> Result<LogEntry, EntryError> {
        if bytes.len() > MAX_ENTRY_LEN {
            return Err(EntryError::TooLarge(bytes.len()));
        }
        let inner = bytes
            .strip_prefix(PREFIX)
            .and_then(|b| b.strip_suffix(b"}"))
            .ok_or(EntryError::Malformed("not {\"envelope\":...}"))?;
        // In canonical JSON every quote inside a string is escaped, so the
        // last bare `,"integratedTime":` is the top-level key.
        let split = crate::dsse::last_index_of(inner, TIME_KEY)
            .ok_or(EntryError::Malformed("no integratedTime"))?;
        let (envelope_json, time) = (&inner[..split], &inner[split + TIME_KEY.len()..]);
        let time = std::str::from_utf8(time)
            .ok()
            .and_then(crate::checkpoint::parse_decimal)
            .ok_or(EntryError::Malformed(
                "integratedTime is not a canonical decimal",
            ))?;
        let (envelope, canonical) = Envelope::parse_checking_canonical(envelope_json)?;
        if !canonical {
            return Err(EntryError::Malformed("envelope is not canonically encoded"));
        }
        Ok(LogEntry {
            envelope,
            integrated_time: time,
        })
    }
}

/// The dedup key of an envelope: SHA-256 of its canonical encoding.
pub fn envelope_hash(canonical_json: &[u8]) -> [u8; 32] {
    Sha256::digest(canonical_json).into()
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;

    use super::*;
    use crate::dsse::PAYLOAD_TYPE_IN_TOTO;

    fn envelope(payload: &[u8]) -> Envelope {
        Envelope::sign(
            PAYLOAD_TYPE_IN_TOTO,
            payload,
            &SigningKey::from_bytes(&[3; 32]),
        )
    }

    #[test]
    fn round_trip() {
        let env = envelope(br#"{"a":"\",\"integratedTime\":1}"}"#);
        let json = env.to_canonical_json();
        for t in [0, 1, 1_700_000_000, u64::MAX] {
            let bytes = LogEntry::encode(&json, t).unwrap();
            let parsed = LogEntry::parse(&bytes).unwrap();
            assert_eq!(parsed.envelope, env);
            assert_eq!(parsed.integrated_time, t);
        }
        assert_eq!(
            String::from_utf8(LogEntry::encode(b"{}", 7).unwrap()).unwrap(),
            r#"{"envelope":{},"integratedTime":7}"#
        );
    }

    #[test]
    fn rejects_non_canonical_and_oversized() {
        let json = envelope(b"x").to_canonical_json();
        let good = String::from_utf8(LogEntry::encode(&json, 12).unwrap()).unwrap();
        let bad = [
            good.replace(":12}", ":012}"),
            good.replace(":12}", ":+12}"),
            good.replace(":12}", ":}"),
            good.replace(":12}", ":12 }"),
            good.replace(":12}", ":12"),
            good.replacen("{\"envelope\":", "{\"envelope\": ", 1),
            good.replacen("{\"envelope\":", "{\"env\":", 1),
            good.replace(",\"integratedTime\"", ",\"time\""),
            good.replace("\"payload\":", " \"payload\":"),
            format!("{good}\n"),
        ];
        for b in bad {
            assert!(LogEntry::parse(b.as_bytes()).is_err(), "{b}");
        }
        let with_space = good.replace("\"payloadType\":", "\"payloadType\": ");
        assert_eq!(
            LogEntry::parse(with_space.as_bytes()),
            Err(EntryError::Malformed("envelope is not canonically encoded"))
        );
        assert!(matches!(
            LogEntry::parse(good.replace("\"sig\":", "\"sag\":").as_bytes()),
            Err(EntryError::Envelope(DsseError::Json(_)))
        ));
        let big = vec![b'x'; MAX_ENTRY_LEN];
        assert!(matches!(
            LogEntry::encode(&big, 1),
            Err(EntryError::TooLarge(_))
        ));
        assert!(matches!(
            LogEntry::parse(&vec![b'x'; MAX_ENTRY_LEN + 1]),
            Err(EntryError::TooLarge(_))
        ));
    }

    #[test]
    fn envelope_hash_ignores_input_spacing() {
        let env = envelope(b"y");
        let canonical = env.to_canonical_json();
        let spaced = String::from_utf8(canonical.clone())
            .unwrap()
            .replace(",", " , ");
        let reparsed = Envelope::parse(spaced.as_bytes()).unwrap();
        assert_eq!(
            envelope_hash(&reparsed.to_canonical_json()),
            envelope_hash(&canonical)
        );
    }
}
