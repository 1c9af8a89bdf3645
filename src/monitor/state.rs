//! [`MonitorState`]: the monitor's own view of the log, built only from
//! entries it verified: the Merkle frontier of the entries seen, the last
//! verified checkpoint, and per vendor the key-binding head and the head of
//! every data-handling series. Entries go in, in index order; events come out.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use super::MonitorError;
use super::event::{CheckpointRef, EntryRef, EventKind, KeyChange, MonitorEvent, VersionRef};
use super::prepare::{KeyCache, Prepared, PreparedEntry, prepare_in_order, signature_verifies};
use crate::checkpoint::Checkpoint;
use crate::claim::{
    BoundKey, ClaimError, DataHandling, Diff, KeyBinding, KeyBindingHead, Predicate, SeriesHead,
    SeriesPolicy, Sha256Digest, authorize_claim_signers, check_key_binding_series,
    check_root_signatures, check_series_with_diff, parse_statement, verified_signers,
};
use crate::dsse::Envelope;
use crate::merkle::{Frontier, Hash};
use crate::note::Note;

/// The largest state file accepted (the heads of every series are in it).
pub const MAX_STATE_BYTES: usize = 256 << 20;

/// The version of the state file format.
const STATE_VERSION: u32 = 1;

/// The monitor's view of one log. Cloning is cheap enough to make a step
/// transactional ([`MonitorState::advance`] returns a new state): heads are
/// shared, not copied.
#[derive(Debug, Clone)]
pub struct MonitorState {
    /// Frontier of the entries verified so far (its size is the next index).
    frontier: Frontier,
    /// The newest checkpoint verified (signed note text), with its parsed body.
    checkpoint: Option<(String, Checkpoint)>,
    /// Key-binding head per domain. Hash maps, not B-trees: every entry looks
    /// a head up, and with thousands of vendors a B-tree search compares the
    /// key with ~10 others whose text is cold in the cache; the state file
    /// sorts what it writes (`to_bytes`).
    keys: HashMap<String, Arc<Head<KeyBindingHead>>>,
    /// Data-handling head per (domain, service).
    series: HashMap<(String, String), Arc<Head<SeriesHead>>>,
    /// Every key of `keys`, decompressed once (derived from `keys`, so not in
    /// the state file: rebuilt on load).
    verifying_keys: Arc<KeyCache>,
    /// Hex SHA-256 of every conflicting checkpoint already reported.
    forks: Vec<String>,
    /// The log's series parameters, as published with its policy.
    policy: SeriesPolicy,
}

/// A head and the exact payload bytes it was parsed from (what the state file
/// stores: heads are re-parsed strictly on load).
#[derive(Debug, Clone)]
struct Head<T> {
    head: T,
    /// The payload from `payload_start` on: the envelope's PAE is kept whole
    /// rather than moving the payload to the front of it.
    bytes: Vec<u8>,
    payload_start: usize,
}

impl<T> Head<T> {
    /// A head parsed from `payload`.
    fn new(head: T, payload: Vec<u8>) -> Head<T> {
        Head {
            head,
            bytes: payload,
            payload_start: 0,
        }
    }

    /// A head parsed from the payload of `envelope`.
    fn of_envelope(head: T, envelope: Envelope) -> Head<T> {
        let (bytes, payload_start) = envelope.into_pae();
        Head {
            head,
            bytes,
            payload_start,
        }
    }

    /// The exact payload bytes.
    fn payload(&self) -> &[u8] {
        &self.bytes[self.payload_start..]
    }
}

impl MonitorState {
    /// An empty state: no entries seen, no checkpoint.
    pub fn new(policy: SeriesPolicy) -> MonitorState {
        MonitorState {
            frontier: Frontier::new(),
            checkpoint: None,
            keys: HashMap::new(),
            series: HashMap::new(),
            verifying_keys: Arc::new(KeyCache::default()),
            forks: Vec::new(),
            policy,
        }
    }

    /// How many entries have been verified and applied: the next index.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// The root of the entries applied so far.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// The newest checkpoint verified, as signed note text and parsed.
    pub fn checkpoint(&self) -> Option<(&str, &Checkpoint)> {
        self.checkpoint.as_ref().map(|(t, c)| (t.as_str(), c))
    }

    /// Records `note_text`, a checkpoint the caller verified (log signature,
    /// witness policy) and found consistent with the previous one. Its size
    /// must not be below the entries applied, nor below the previous one's.
    pub fn set_checkpoint(&mut self, note_text: &str) -> Result<(), MonitorError> {
        let checkpoint = parse_checkpoint_note(note_text)?;
        if checkpoint.size() < self.size() {
            return Err(MonitorError::CheckpointBehind {
                size: checkpoint.size(),
                applied: self.size(),
            });
        }
        if let Some((_, old)) = &self.checkpoint
            && checkpoint.size() < old.size()
        {
            return Err(MonitorError::CheckpointBehind {
                size: checkpoint.size(),
                applied: old.size(),
            });
        }
        self.checkpoint = Some((note_text.to_owned(), checkpoint));
        Ok(())
    }

    /// Records that the conflicting checkpoint `theirs` was reported; false if
    /// it had been already (so a restarted monitor does not report it again).
    pub fn note_fork(&mut self, theirs: &str) -> bool {
        let id = Sha256Digest::of(theirs.as_bytes()).to_string();
        if self.forks.contains(&id) {
            return false;
        }
        self.forks.push(id);
        true
    }

    /// The key-binding head of `domain`, if it enrolled.
    pub fn key_head(&self, domain: &str) -> Option<&KeyBindingHead> {
        self.keys.get(domain).map(|h| &h.head)
    }

    /// The head of the series `(domain, service)`, if any.
    pub fn series_head(&self, domain: &str, service: &str) -> Option<&SeriesHead> {
        self.series
            .get(&(domain.to_owned(), service.to_owned()))
            .map(|h| &h.head)
    }

    /// Applies `entries`, the log's entries from index `first` on, and checks
    /// that with them the tree has root `expected_root`, taken from a verified
    /// checkpoint. Returns the new state and the events, each resting on
    /// `anchor`; `self` is unchanged, so a step that fails leaves nothing
    /// half-applied and reports nothing.
    ///
    /// `threads` (at least 1) share parsing and signature verification; the
    /// rules are then applied in index order.
    pub fn advance<E: AsRef<[u8]> + Sync>(
        &self,
        first: u64,
        entries: &[E],
        expected_root: &Hash,
        anchor: &CheckpointRef,
        threads: usize,
    ) -> Result<(MonitorState, Vec<MonitorEvent>), MonitorError> {
        self.advance_with(first, entries, anchor, threads, |size, computed| {
            if computed == expected_root {
                Ok(())
            } else {
                Err(MonitorError::RootMismatch {
                    size,
                    expected: expected_root.to_base64(),
                    computed: computed.to_base64(),
                })
            }
        })
    }

    /// [`MonitorState::advance`] with the root check left to `check(size,
    /// root)`, called with the root of the entries before any rule is applied:
    /// for a step that stops short of the checkpoint's size, the caller checks
    /// the root against the checkpoint with a consistency proof.
    pub fn advance_with<E: AsRef<[u8]> + Sync>(
        &self,
        first: u64,
        entries: &[E],
        anchor: &CheckpointRef,
        threads: usize,
        check: impl FnOnce(u64, &Hash) -> Result<(), MonitorError>,
    ) -> Result<(MonitorState, Vec<MonitorEvent>), MonitorError> {
        if first != self.size() {
            return Err(MonitorError::IndexGap {
                expected: self.size(),
                found: first,
            });
        }
        // The rules are applied to a copy as entries come out of the pipeline;
        // the root is checked once all are in. A failed step returns an error
        // and drops the copy, so nothing is half-applied or reported: the same
        // outcome as checking the root first, without waiting for every entry
        // before applying the first rule.
        let mut next = self.clone();
        let mut events = Vec::new();
        prepare_in_order(first, entries, &self.verifying_keys, threads, |p| {
            next.frontier
                .append(p.leaf)
                .map_err(|e| MonitorError::Tree(e.to_string()))?;
            for kind in next.apply(p) {
                events.push(MonitorEvent {
                    kind,
                    checkpoint: Some(anchor.clone()),
                });
            }
            Ok(())
        })?;
        check(next.size(), &next.frontier.root())?;
        Ok((next, events))
    }

    /// The rules the log applies at integration (crate::server::claims), from
    /// the monitor's own heads; an entry that breaks one is a violation and
    /// leaves the heads unchanged.
    fn apply(&mut self, p: PreparedEntry) -> Vec<EventKind> {
        let mut entry = EntryRef {
            log_index: p.index,
            integrated_time: None,
            domain: None,
            service: None,
            sequence: None,
            statement_sha256: None,
        };
        let prepared = match p.outcome {
            Ok(prepared) => prepared,
            Err((kind, reason)) => {
                if let Some(t) = p.integrated_time {
                    entry.integrated_time = Some(t);
                }
                return vec![EventKind::SeriesViolation {
                    entry,
                    kind,
                    reason,
                }];
            }
        };
        let Prepared {
            envelope,
            statement,
            at,
            signatures,
            bound_keys,
        } = prepared;
        entry.integrated_time = p.integrated_time;
        entry.statement_sha256 = Some(statement.statement_sha256.to_string());
        let sha = statement.statement_sha256;
        let cache: &KeyCache = &self.verifying_keys;
        let verified_by = |keys: &[BoundKey]| {
            verified_signers(&envelope, keys, |j, key| {
                signature_verifies(&envelope, &signatures, cache, j, key)
            })
        };
        let violation = |entry: EntryRef, e: ClaimError| {
            vec![EventKind::SeriesViolation {
                entry,
                kind: super::event::ViolationKind::of(&e),
                reason: e.to_string(),
            }]
        };
        match statement.predicate {
            Predicate::KeyBinding(kb) => {
                let domain = kb.domain.to_string();
                entry.domain = Some(domain.clone());
                entry.sequence = Some(kb.sequence);
                let head = self.keys.get(&domain).map(|h| &h.head);
                let result = verified_by(&kb.root_keys).and_then(|verified| {
                    if let Some(e) = check_key_binding_series(head, &kb, at, &self.policy)
                        .into_iter()
                        .next()
                    {
                        return Err(e);
                    }
                    check_root_signatures(head.map(|h| &h.binding), &kb, &verified, at)
                });
                if let Err(e) = result {
                    return violation(entry, e);
                }
                let events = key_events(entry, head.map(|h| &h.binding), &kb);
                let cache = Arc::make_mut(&mut self.verifying_keys);
                for k in kb.root_keys.iter().chain(&kb.signing_keys) {
                    match bound_keys.iter().find(|(id, _)| *id == k.keyid) {
                        Some((id, vk)) if vk.as_bytes() == &k.public_key.0 => {
                            cache.insert_decompressed(*id, *vk)
                        }
                        _ => cache.insert(k.keyid, &k.public_key),
                    }
                }
                self.keys.insert(
                    domain,
                    Arc::new(Head::of_envelope(
                        KeyBindingHead {
                            log_index: p.index,
                            statement_sha256: sha,
                            binding: kb,
                        },
                        envelope,
                    )),
                );
                events
            }
            Predicate::DataHandling(dh) => {
                let domain = dh.issuer.domain.to_string();
                let service = dh.service.id.to_string();
                entry.domain = Some(domain.clone());
                entry.service = Some(service.clone());
                entry.sequence = Some(dh.sequence);
                let keys = self.keys.get(&domain).map(|h| &h.head.binding);
                let key = (domain, service);
                let head = self.series.get(&key).map(|h| &h.head);
                let result = keys
                    .map_or(Ok(Vec::new()), |k| verified_by(&k.signing_keys))
                    .and_then(|verified| {
                        authorize_claim_signers(keys, &dh.issuer.domain, &verified, at)
                    })
                    .and_then(|()| {
                        // The diff the notice rule needs is the one the event
                        // reports: computed once.
                        let (problems, diff) = check_series_with_diff(head, &dh, at, &self.policy);
                        match problems.into_iter().next() {
                            Some(e) => Err(e),
                            None => Ok(diff),
                        }
                    });
                let diff = match result {
                    Ok(diff) => diff,
                    Err(e) => return violation(entry, e),
                };
                let events = claim_events(entry, head, &dh, diff);
                self.series.insert(
                    key,
                    Arc::new(Head::of_envelope(
                        SeriesHead {
                            log_index: p.index,
                            statement_sha256: sha,
                            predicate: dh,
                        },
                        envelope,
                    )),
                );
                events
            }
        }
    }

    /// The state as its file format (spec/monitor.md "State"): JSON.
    pub fn to_bytes(&self) -> Vec<u8> {
        let head = |log_index: u64, payload: &[u8]| HeadRecord {
            log_index,
            payload: STANDARD.encode(payload),
        };
        let file = StateFile {
            version: STATE_VERSION,
            size: self.frontier.size(),
            frontier: self.frontier.hashes().iter().map(Hash::to_base64).collect(),
            checkpoint: self.checkpoint.as_ref().map(|(t, _)| t.clone()),
            key_heads: sorted(&self.keys)
                .map(|h| head(h.head.log_index, h.payload()))
                .collect(),
            series_heads: sorted(&self.series)
                .map(|h| head(h.head.log_index, h.payload()))
                .collect(),
            reported_forks: self.forks.clone(),
            max_issued_at_skew_seconds: self.policy.max_issued_at_skew_seconds,
        };
        // Serializing strings, numbers and lists cannot fail.
        serde_json::to_vec_pretty(&file).unwrap_or_default()
    }

    /// Parses a state file strictly: size cap, no unknown fields, every head
    /// re-parsed from its payload and filed under the series it names, the
    /// frontier well formed, and the checkpoint's size not below it.
    pub fn from_bytes(bytes: &[u8]) -> Result<MonitorState, MonitorError> {
        if bytes.len() > MAX_STATE_BYTES {
            return Err(MonitorError::State(format!(
                "state file is {} bytes, over {MAX_STATE_BYTES}",
                bytes.len()
            )));
        }
        let file: StateFile =
            serde_json::from_slice(bytes).map_err(|e| MonitorError::State(e.to_string()))?;
        if file.version != STATE_VERSION {
            return Err(MonitorError::State(format!(
                "state version {} is not {STATE_VERSION}",
                file.version
            )));
        }
        let hashes = file
            .frontier
            .iter()
            .map(|h| Hash::from_base64(h).ok_or_else(|| bad("frontier hash is not base64")))
            .collect::<Result<Vec<_>, _>>()?;
        let frontier = Frontier::from_parts(file.size, hashes)
            .map_err(|e| MonitorError::State(e.to_string()))?;
        let mut state = MonitorState::new(SeriesPolicy {
            max_issued_at_skew_seconds: file.max_issued_at_skew_seconds,
        });
        state.frontier = frontier;
        if let Some(text) = &file.checkpoint {
            state.set_checkpoint(text)?;
        }
        for r in &file.key_heads {
            let (payload, parsed) = reparse(r, state.size())?;
            let Predicate::KeyBinding(binding) = parsed.predicate else {
                return Err(bad("a key head is not a key binding"));
            };
            let domain = binding.domain.to_string();
            let head = KeyBindingHead {
                log_index: r.log_index,
                statement_sha256: parsed.statement_sha256,
                binding,
            };
            let cache = Arc::make_mut(&mut state.verifying_keys);
            for k in head
                .binding
                .root_keys
                .iter()
                .chain(&head.binding.signing_keys)
            {
                cache.insert(k.keyid, &k.public_key);
            }
            if state
                .keys
                .insert(domain, Arc::new(Head::new(head, payload)))
                .is_some()
            {
                return Err(bad("two key heads for one domain"));
            }
        }
        for r in &file.series_heads {
            let (payload, parsed) = reparse(r, state.size())?;
            let Predicate::DataHandling(predicate) = parsed.predicate else {
                return Err(bad("a series head is not a data-handling statement"));
            };
            let key = (
                predicate.issuer.domain.to_string(),
                predicate.service.id.to_string(),
            );
            let head = SeriesHead {
                log_index: r.log_index,
                statement_sha256: parsed.statement_sha256,
                predicate,
            };
            if state
                .series
                .insert(key, Arc::new(Head::new(head, payload)))
                .is_some()
            {
                return Err(bad("two heads for one series"));
            }
        }
        for id in &file.reported_forks {
            Sha256Digest::parse(id).map_err(|_| bad("reportedForks holds a non-digest"))?;
        }
        state.forks = file.reported_forks;
        Ok(state)
    }
}

/// The on-disk state (spec/monitor.md "State").
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct StateFile {
    version: u32,
    size: u64,
    frontier: Vec<String>,
    checkpoint: Option<String>,
    key_heads: Vec<HeadRecord>,
    series_heads: Vec<HeadRecord>,
    reported_forks: Vec<String>,
    max_issued_at_skew_seconds: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct HeadRecord {
    log_index: u64,
    payload: String,
}

/// The values of `map` in the order of their keys: the state file lists heads
/// by domain (and service), so one state has one file.
fn sorted<K: Ord, V>(map: &HashMap<K, V>) -> impl Iterator<Item = &V> {
    let mut entries: Vec<(&K, &V)> = map.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    entries.into_iter().map(|(_, v)| v)
}

fn bad(reason: &str) -> MonitorError {
    MonitorError::State(reason.to_owned())
}

/// A head record's payload, decoded and parsed; its index must be below the
/// state's size.
fn reparse(
    r: &HeadRecord,
    size: u64,
) -> Result<(Vec<u8>, crate::claim::ParsedStatement), MonitorError> {
    if r.log_index >= size {
        return Err(bad("a head lies beyond the entries applied"));
    }
    let payload = STANDARD
        .decode(&r.payload)
        .map_err(|_| bad("a head payload is not base64"))?;
    if STANDARD.encode(&payload) != r.payload {
        return Err(bad("a head payload is not canonical base64"));
    }
    let parsed = parse_statement(&payload)
        .map_err(|e| MonitorError::State(format!("head at {}: {e}", r.log_index)))?;
    Ok((payload, parsed))
}

/// Parses the body of a signed checkpoint note (signatures are the caller's
/// business: the driver verifies them against the policy).
pub(crate) fn parse_checkpoint_note(note_text: &str) -> Result<Checkpoint, MonitorError> {
    let note =
        Note::parse(note_text.as_bytes()).map_err(|e| MonitorError::Checkpoint(e.to_string()))?;
    Checkpoint::parse(note.text()).map_err(|e| MonitorError::Checkpoint(e.to_string()))
}

/// Events for an accepted key binding following `prev` (`None`: enrollment).
fn key_events(entry: EntryRef, prev: Option<&KeyBinding>, kb: &KeyBinding) -> Vec<EventKind> {
    let change = |k: &BoundKey, role| KeyChange {
        keyid: k.keyid.to_string(),
        role,
        valid_from: k.valid_from,
        valid_until: k.valid_until,
    };
    let all = kb
        .root_keys
        .iter()
        .map(|k| change(k, "root"))
        .chain(kb.signing_keys.iter().map(|k| change(k, "signing")));
    let Some(prev) = prev else {
        return vec![EventKind::VendorEnrolled {
            entry,
            keys: all.collect(),
        }];
    };
    let mut added = Vec::new();
    let mut changed = Vec::new();
    for (role, new_list, old_list) in [
        ("root", &kb.root_keys, &prev.root_keys),
        ("signing", &kb.signing_keys, &prev.signing_keys),
    ] {
        for k in new_list {
            match old_list.iter().find(|o| o.keyid == k.keyid) {
                None => added.push(change(k, role)),
                Some(o) if o.valid_until != k.valid_until => changed.push(change(k, role)),
                Some(_) => {}
            }
        }
    }
    let mut events = Vec::new();
    if !added.is_empty() || !changed.is_empty() {
        events.push(EventKind::KeyRotated {
            entry: entry.clone(),
            added,
            changed,
        });
    }
    for r in &kb.revocations {
        if prev.revocation(&r.keyid).is_none() {
            events.push(EventKind::KeyRevoked {
                entry: entry.clone(),
                keyid: r.keyid.to_string(),
                compromised_since: r.compromised_since,
                reason: r.reason.as_ref().map(ToString::to_string),
            });
        }
    }
    events
}

/// Events for an accepted data-handling version following `head`; `diff` is
/// the diff from the head (`None` exactly when there is no head).
fn claim_events(
    entry: EntryRef,
    head: Option<&SeriesHead>,
    dh: &DataHandling,
    diff: Option<Diff>,
) -> Vec<EventKind> {
    let (Some(head), Some(d)) = (head, diff) else {
        return vec![EventKind::NewClaim {
            entry,
            effective_from: dh.effective_from,
            claim_ids: dh.claims.iter().map(|c| c.id.to_string()).collect(),
        }];
    };
    let previous = VersionRef {
        sequence: head.predicate.sequence,
        log_index: head.log_index,
    };
    let withdrawn: Vec<EventKind> = d
        .removed
        .iter()
        .map(|id| EventKind::ClaimWithdrawn {
            entry: entry.clone(),
            claim_id: id.clone(),
            effective_from: dh.effective_from,
        })
        .collect();
    let version = if d.weakens() {
        EventKind::ClaimWeakened {
            entry,
            previous,
            effective_from: dh.effective_from,
            diff: d,
        }
    } else {
        EventKind::ClaimUpdated {
            entry,
            previous,
            effective_from: dh.effective_from,
            diff: d,
        }
    };
    std::iter::once(version).chain(withdrawn).collect()
}

#[cfg(test)]
mod order_tests {
    use super::*;

    /// The state file lists heads by key whatever order the hash map holds
    /// them in (it held them in a B-tree before, so files are unchanged).
    #[test]
    fn heads_are_written_in_key_order() {
        let keys: Vec<String> = (0..200)
            .map(|i| format!("v{:03}.example", (i * 7919) % 200))
            .collect();
        let map: HashMap<String, usize> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.clone(), i))
            .collect();
        let mut expected: Vec<&String> = keys.iter().collect();
        expected.sort();
        let written: Vec<&String> = sorted(&map).map(|&i| &keys[i]).collect();
        assert_eq!(written, expected);
        let pairs: HashMap<(String, String), u8> = [
            (("b.example".to_owned(), "a".to_owned()), 3),
            (("a.example".to_owned(), "z".to_owned()), 2),
            (("a.example".to_owned(), "b".to_owned()), 1),
        ]
        .into_iter()
        .collect();
        assert_eq!(sorted(&pairs).copied().collect::<Vec<_>>(), [1, 2, 3]);
    }
}
