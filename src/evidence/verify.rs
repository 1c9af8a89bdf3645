//! The evidence verifier: every check in a fixed order, each failing with its own
//! [`EvidenceError`] variant, and a report of what was proven.
//!
//! Order (spec/bundle.md §Verification): 1. the checkpoint is valid under the policy
//! (log signature, witness quorum: tlog-proof steps 2-3, specs.md §8); 2. the entry
//! and every key-binding entry are included in it (step 4); 3. the entry parses, and
//! its statement is a valid claimlog statement; 4. the key bindings replay as the
//! issuer domain's series from its enrollment, each signed by the root keys the rules
//! require, with the log's series rules (`claim::check_key_binding_series`); 5. the
//! entry's signature verifies with a key that was a valid signing key of the domain at
//! the entry's integration time (`claim::authorize_claim_signer`), or, for a key
//! binding, with the root keys its series step requires.

use ed25519_dalek::VerifyingKey;
use serde_json::{Value, json};

use super::{Evidence, EvidenceError};
use crate::claim::{
    ClaimError, Domain, KeyBinding, KeyBindingHead, ParsedStatement, Predicate, SeriesPolicy,
    Sha256Digest, Timestamp, authorize_claim_signer, check_key_binding_series, parse_and_validate,
    required_signers,
};
use crate::dsse::{DsseError, Envelope, KeySet};
use crate::entry::{EntryError, LogEntry};
use crate::merkle::{Hash, leaf_hash, verify_inclusion};
use crate::policy::{Policy, VerifiedCheckpoint};

/// The series rules without the `issuedAt` skew limit: the skew is an admission
/// parameter of each log, not known to a verifier, and says nothing about who holds
/// which key.
const REPLAY_POLICY: SeriesPolicy = SeriesPolicy {
    max_issued_at_skew_seconds: u64::MAX,
};

/// What verified evidence proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proven {
    /// The entry's index.
    pub index: u64,
    /// The entry's leaf hash.
    pub leaf: Hash,
    /// When the log integrated it.
    pub integrated_time: Timestamp,
    /// The envelope as logged.
    pub envelope: Envelope,
    /// The statement it carries.
    pub statement: ParsedStatement,
    /// The issuer's domain.
    pub domain: Domain,
    /// The keys whose signatures on the entry verified and were authorized.
    pub signers: Vec<Sha256Digest>,
    /// The checkpoint, with the log that signed it and the witnesses that cosigned it.
    pub checkpoint: VerifiedCheckpoint,
    /// The domain's key-binding versions before the entry, oldest first.
    pub bindings: Vec<BindingStep>,
}

/// One replayed key-binding version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingStep {
    /// Its index.
    pub index: u64,
    /// Its `sequence`.
    pub sequence: u64,
    /// When the log integrated it.
    pub integrated_time: Timestamp,
    /// The keys whose signatures the rules required, all verified.
    pub signed_by: Vec<Sha256Digest>,
}

impl Evidence {
    /// Runs every check (module doc) against `policy`; the first failure, or what was
    /// proven.
    pub fn verify(&self, policy: &Policy) -> Result<Proven, EvidenceError> {
        // 1. Checkpoint.
        let checkpoint = policy.verify_checkpoint(self.proof.note())?;
        let (size, root) = (
            checkpoint.checkpoint().size(),
            *checkpoint.checkpoint().root(),
        );

        // 2. Inclusion of the entry and of every binding under the same checkpoint.
        let index = self.index();
        let leaf = leaf_hash(self.entry());
        verify_inclusion(index, size, &leaf, self.proof.proof(), &root)
            .map_err(|error| EvidenceError::EntryInclusion { index, error })?;
        for b in &self.bindings {
            verify_inclusion(b.index, size, &leaf_hash(&b.entry), &b.proof, &root).map_err(
                |error| EvidenceError::BindingInclusion {
                    index: b.index,
                    error,
                },
            )?;
        }

        // 3. The entry and its statement.
        let (entry, integrated_time, statement) = open_entry(index, self.entry())?;
        let domain = match &statement.predicate {
            Predicate::DataHandling(dh) => dh.issuer.domain.clone(),
            Predicate::KeyBinding(kb) => kb.domain.clone(),
        };

        // 4. Replay the domain's key bindings.
        let mut head: Option<KeyBindingHead> = None;
        let mut steps = Vec::with_capacity(self.bindings.len());
        for b in &self.bindings {
            let (env, at, parsed) = open_entry(b.index, &b.entry)?;
            let Predicate::KeyBinding(kb) = parsed.predicate else {
                return Err(chain(b.index, "not a key-binding statement".into()));
            };
            if kb.domain != domain {
                return Err(chain(
                    b.index,
                    format!("binds keys of {}, not of {domain}", kb.domain),
                ));
            }
            let signed_by = binding_step(b.index, &env, head.as_ref(), &kb, at)?;
            steps.push(BindingStep {
                index: b.index,
                sequence: kb.sequence,
                integrated_time: at,
                signed_by,
            });
            head = Some(KeyBindingHead {
                log_index: b.index,
                statement_sha256: parsed.statement_sha256,
                binding: kb,
            });
        }

        // 5. Who signed the entry.
        let signers = match &statement.predicate {
            Predicate::KeyBinding(kb) => {
                binding_step(index, &entry, head.as_ref(), kb, integrated_time)?
            }
            Predicate::DataHandling(_) => {
                let Some(head) = head else {
                    return Err(EvidenceError::NoBinding {
                        domain: domain.to_string(),
                        index,
                    });
                };
                authorized_signers(index, &entry, &head.binding, &domain, integrated_time)?
            }
        };
        Ok(Proven {
            index,
            leaf,
            integrated_time,
            envelope: entry,
            statement,
            domain,
            signers,
            checkpoint,
            bindings: steps,
        })
    }
}

impl Proven {
    /// A short human-readable transcript of what was proven.
    pub fn transcript(&self) -> String {
        let cp = self.checkpoint.checkpoint();
        let mut out = String::new();
        let what = match &self.statement.predicate {
            Predicate::DataHandling(dh) => {
                let mut s = format!(
                    "{} ({}) claims about service {} ({}), version {}:\n",
                    dh.issuer.name, self.domain, dh.service.id, dh.service.name, dh.sequence
                );
                for c in &dh.claims {
                    s.push_str(&format!("  - {}: {}", c.id, c.data_category.term));
                    if let Some(p) = c.server_processing {
                        s.push_str(&format!(", server processing {p}"));
                    }
                    if let Some(t) = c.used_for_training {
                        s.push_str(&format!(", used for training {t}"));
                    }
                    if let Some(e) = c.end_to_end_encrypted {
                        s.push_str(&format!(", end-to-end encrypted {e}"));
                    }
                    s.push('\n');
                }
                s.push_str(&format!("  effective from {}\n", dh.effective_from));
                s
            }
            Predicate::KeyBinding(kb) => format!(
                "{} binds {} root key(s) and {} signing key(s), version {}\n",
                self.domain,
                kb.root_keys.len(),
                kb.signing_keys.len(),
                kb.sequence
            ),
        };
        out.push_str(&what);
        out.push_str(&format!(
            "statement sha256 {}\nlogged at index {} on {} in {} (tree size {}, root {})\n",
            self.statement.statement_sha256,
            self.index,
            self.integrated_time,
            cp.origin(),
            cp.size(),
            cp.root().to_base64()
        ));
        out.push_str(&format!(
            "log signature: ok ({})\n",
            self.checkpoint.log().name()
        ));
        if self.checkpoint.cosignatures().is_empty() {
            out.push_str("witnesses: none required by the policy\n");
        }
        for w in self.checkpoint.cosignatures() {
            out.push_str(&format!(
                "witnessed by {} at {}\n",
                w.witness(),
                render_time(w.timestamp())
            ));
        }
        out.push_str(&format!(
            "inclusion: ok (the entry and {} key-binding entries, under this checkpoint)\n",
            self.bindings.len()
        ));
        let signers: Vec<String> = self.signers.iter().map(|k| k.to_string()).collect();
        out.push_str(&format!(
            "signature: ok, by {} of {} at integration time\n",
            signers.join(", "),
            self.domain
        ));
        for s in &self.bindings {
            out.push_str(&format!(
                "key binding v{} at index {} ({}): signed by root {}\n",
                s.sequence,
                s.index,
                s.integrated_time,
                s.signed_by
                    .iter()
                    .map(|k| k.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        out
    }

    /// The report as JSON (for `--json`).
    pub fn to_json(&self) -> Value {
        let cp = self.checkpoint.checkpoint();
        let (predicate_type, sequence, service) = match &self.statement.predicate {
            Predicate::DataHandling(dh) => (
                crate::claim::DATA_HANDLING_V1,
                dh.sequence,
                Some(dh.service.id.to_string()),
            ),
            Predicate::KeyBinding(kb) => (crate::claim::KEY_BINDING_V1, kb.sequence, None),
        };
        let predicate = match &self.statement.predicate {
            Predicate::DataHandling(dh) => serde_json::to_value(dh),
            Predicate::KeyBinding(kb) => serde_json::to_value(kb),
        }
        .unwrap_or(Value::Null);
        json!({
            "verified": true,
            "index": self.index,
            "leafHash": self.leaf.to_base64(),
            "integratedTime": self.integrated_time,
            "statementSha256": self.statement.statement_sha256,
            "predicateType": predicate_type,
            "domain": self.domain,
            "service": service,
            "sequence": sequence,
            "predicate": predicate,
            "signers": self.signers,
            "checkpoint": {
                "origin": cp.origin().as_str(),
                "size": cp.size(),
                "rootHash": cp.root().to_base64(),
                "log": self.checkpoint.log().to_string(),
                "witnesses": self.checkpoint.cosignatures().iter().map(|w| json!({
                    "name": w.witness().to_string(),
                    "timestamp": w.timestamp(),
                })).collect::<Vec<_>>(),
            },
            "keyBindings": self.bindings.iter().map(|s| json!({
                "index": s.index,
                "sequence": s.sequence,
                "integratedTime": s.integrated_time,
                "signedBy": s.signed_by,
            })).collect::<Vec<_>>(),
        })
    }
}

/// Parses an entry: the log entry framing, the integration time, and the statement.
fn open_entry(
    index: u64,
    bytes: &[u8],
) -> Result<(Envelope, Timestamp, ParsedStatement), EvidenceError> {
    let entry = LogEntry::parse(bytes).map_err(|error| EvidenceError::Entry { index, error })?;
    let at = i64::try_from(entry.integrated_time)
        .ok()
        .and_then(Timestamp::from_unix)
        .ok_or(EvidenceError::Entry {
            index,
            error: EntryError::Malformed("integratedTime out of range"),
        })?;
    let statement = parse_and_validate(entry.envelope.payload())
        .map_err(|error| EvidenceError::Statement { index, error })?;
    Ok((entry.envelope, at, statement))
}

/// One step of a domain's key-binding series: the log's series rules after `head`, and
/// the signatures of the root keys the step requires. Returns those keys.
fn binding_step(
    index: u64,
    envelope: &Envelope,
    head: Option<&KeyBindingHead>,
    kb: &KeyBinding,
    at: Timestamp,
) -> Result<Vec<Sha256Digest>, EvidenceError> {
    if let Some(e) = check_key_binding_series(head, kb, at, &REPLAY_POLICY)
        .into_iter()
        .next()
    {
        return Err(chain(index, e.to_string()));
    }
    let required = required_signers(head.map(|h| &h.binding), kb, at)
        .map_err(|e| chain(index, e.to_string()))?;
    // A valid next version lists every root key of the head again (append-only), so
    // its own root keys are all the keys that can be required.
    let mut keys = KeySet::new();
    for k in &kb.root_keys {
        if let Ok(vk) = VerifyingKey::from_bytes(&k.public_key.0) {
            keys.insert(vk);
        }
    }
    // Every signature naming one of these keys must verify.
    envelope
        .verify(&keys)
        .map_err(|error| EvidenceError::Envelope { index, error })?;
    let mut signed_by = Vec::with_capacity(required.len());
    for key in required {
        let keyid = key.keyid();
        if !envelope
            .signatures()
            .iter()
            .any(|s| s.keyid == keyid.to_string())
        {
            return Err(EvidenceError::Signature {
                index,
                reason: format!("not signed by required root key {keyid}"),
            });
        }
        signed_by.push(keyid);
    }
    Ok(signed_by)
}

/// The entry's signatures by signing keys of `binding` that verify and that were valid
/// for `domain` at `at`; at least one, or why not.
fn authorized_signers(
    index: u64,
    envelope: &Envelope,
    binding: &KeyBinding,
    domain: &Domain,
    at: Timestamp,
) -> Result<Vec<Sha256Digest>, EvidenceError> {
    let mut keys = KeySet::new();
    for k in &binding.signing_keys {
        if let Ok(vk) = VerifyingKey::from_bytes(&k.public_key.0) {
            keys.insert(vk);
        }
    }
    match envelope.verify(&keys) {
        Ok(_) => {}
        Err(DsseError::NoTrustedSignature) => {
            let keyid = envelope
                .signatures()
                .first()
                .map_or_else(String::new, |s| s.keyid.clone());
            return Err(EvidenceError::Key {
                index,
                error: ClaimError::KeyNotBound {
                    keyid,
                    domain: domain.to_string(),
                },
            });
        }
        Err(error) => return Err(EvidenceError::Envelope { index, error }),
    }
    let mut signers = Vec::new();
    let mut first_error = None;
    for k in &binding.signing_keys {
        if !envelope
            .signatures()
            .iter()
            .any(|s| s.keyid == k.keyid.to_string())
        {
            continue;
        }
        match authorize_claim_signer(binding, domain, &k.keyid, at) {
            Ok(_) => signers.push(k.keyid),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match (signers.is_empty(), first_error) {
        (false, _) => Ok(signers),
        (true, Some(error)) => Err(EvidenceError::Key { index, error }),
        (true, None) => Err(EvidenceError::Key {
            index,
            error: ClaimError::KeyNotBound {
                keyid: String::new(),
                domain: domain.to_string(),
            },
        }),
    }
}

fn chain(index: u64, reason: String) -> EvidenceError {
    EvidenceError::BindingChain { index, reason }
}

/// POSIX seconds as RFC 3339, or the number if out of range.
fn render_time(seconds: u64) -> String {
    i64::try_from(seconds)
        .ok()
        .and_then(Timestamp::from_unix)
        .map_or_else(|| seconds.to_string(), |t| t.to_string())
}
