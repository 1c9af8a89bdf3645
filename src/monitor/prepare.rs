//! The parallel half of applying entries: parsing each entry and its
//! statement, and verifying every signature that names a known key. Neither
//! depends on the order of entries, so threads share it; the rules that do
//! depend on order run afterwards in [`super::MonitorState`].

use std::collections::BTreeMap;

use super::event::ViolationKind;
use crate::claim::{
    BoundKey, ParsedStatement, Predicate, Timestamp, parse_and_validate, verify_signature,
};
use crate::dsse::{Envelope, PAYLOAD_TYPE_IN_TOTO};
use crate::entry::LogEntry;
use crate::merkle::{Hash, leaf_hash};

/// One entry after the order-independent checks.
pub(crate) struct PreparedEntry {
    /// Its index in the log.
    pub index: u64,
    /// Its Merkle leaf hash.
    pub leaf: Hash,
    /// The log's integration time, if the entry framing parsed.
    pub integrated_time: Option<u64>,
    /// The parsed entry, or the violation that makes it unusable.
    pub outcome: Result<Prepared, (ViolationKind, String)>,
}

/// A well-formed entry holding a valid statement.
pub(crate) struct Prepared {
    /// The envelope.
    pub envelope: Envelope,
    /// The statement, parsed and validated.
    pub statement: ParsedStatement,
    /// The integration time.
    pub at: Timestamp,
    /// Per signature: `Some(verified)` if its keyid names a key known when
    /// the batch was prepared, `None` otherwise.
    pub signature_ok: Vec<Option<bool>>,
    /// The exact payload bytes.
    pub payload: Vec<u8>,
}

/// Prepares `entries` (indexes from `first`) on `threads` threads. `known`
/// holds the keys the state already bound; keys bound by key bindings inside
/// the batch are added before signatures are checked, so a claim signed with a
/// key bound earlier in the same batch is verified too.
pub(crate) fn prepare_batch<E: AsRef<[u8]> + Sync>(
    first: u64,
    entries: &[E],
    known: &BTreeMap<String, BoundKey>,
    threads: usize,
) -> Vec<PreparedEntry> {
    let threads = threads.max(1);
    let chunk = entries.len().div_ceil(threads).max(1);
    let mut out: Vec<PreparedEntry> = std::thread::scope(|s| {
        let handles: Vec<_> = entries
            .chunks(chunk)
            .enumerate()
            .map(|(c, part)| {
                let base = first + (c * chunk) as u64;
                s.spawn(move || {
                    part.iter()
                        .enumerate()
                        .map(|(i, e)| prepare(base + i as u64, e.as_ref()))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            // A panic in a worker is a bug in our parsers; re-raise it here.
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut keys = known.clone();
    for p in &out {
        if let Ok(Prepared {
            statement:
                ParsedStatement {
                    predicate: Predicate::KeyBinding(kb),
                    ..
                },
            ..
        }) = &p.outcome
        {
            for k in kb.root_keys.iter().chain(&kb.signing_keys) {
                keys.entry(k.keyid.to_string()).or_insert_with(|| k.clone());
            }
        }
    }
    let keys = &keys;
    std::thread::scope(|s| {
        for part in out.chunks_mut(chunk) {
            s.spawn(move || {
                for p in part {
                    if let Ok(prepared) = &mut p.outcome {
                        prepared.signature_ok = prepared
                            .envelope
                            .signatures()
                            .iter()
                            .enumerate()
                            .map(|(j, sig)| {
                                keys.get(&sig.keyid)
                                    .map(|k| verify_signature(&prepared.envelope, j, &k.public_key))
                            })
                            .collect();
                    }
                }
            });
        }
    });
    out
}

/// The order-independent checks of one entry: the entry framing, the DSSE
/// envelope, the payload type, the statement's strict parse and validation,
/// and the integration time as a timestamp.
fn prepare(index: u64, bytes: &[u8]) -> PreparedEntry {
    let leaf = leaf_hash(bytes);
    let entry = match LogEntry::parse(bytes) {
        Ok(e) => e,
        Err(e) => {
            return PreparedEntry {
                index,
                leaf,
                integrated_time: None,
                outcome: Err((ViolationKind::Entry, e.to_string())),
            };
        }
    };
    let integrated_time = Some(entry.integrated_time);
    let outcome = (|| {
        entry
            .envelope
            .require_payload_type(PAYLOAD_TYPE_IN_TOTO)
            .map_err(|e| (ViolationKind::Entry, e.to_string()))?;
        let at = i64::try_from(entry.integrated_time)
            .ok()
            .and_then(Timestamp::from_unix)
            .ok_or((
                ViolationKind::Time,
                "integratedTime is out of range".to_owned(),
            ))?;
        let statement = parse_and_validate(entry.envelope.payload())
            .map_err(|e| (ViolationKind::of(&e), e.to_string()))?;
        Ok(Prepared {
            payload: entry.envelope.payload().to_vec(),
            envelope: entry.envelope,
            statement,
            at,
            signature_ok: Vec::new(),
        })
    })();
    PreparedEntry {
        index,
        leaf,
        integrated_time,
        outcome,
    }
}
