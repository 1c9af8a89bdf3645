//! Assembling [`Evidence`] from a live log: the entry and the issuer domain's
//! key-binding entries, each read from entry bundles with its inclusion proof computed
//! from tiles under one checkpoint. Which key-binding entries to read comes from the
//! vendor API (a hint); the evidence verifier checks that they form the domain's series.

use super::{ClientError, LogClient};
use crate::claim::{Predicate, parse_statement};
use crate::entry::LogEntry;
use crate::evidence::{BindingProof, Evidence, EvidenceError, MAX_BINDINGS};
use crate::note::Note;
use crate::proof_bundle::ProofBundle;

/// Why evidence could not be assembled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssembleError {
    /// Fetching or proving failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The parts do not make evidence (e.g. more than [`MAX_BINDINGS`] bindings).
    #[error(transparent)]
    Evidence(#[from] EvidenceError),
    /// The entry's issuer has not enrolled, according to the log.
    #[error("the log knows no key bindings of {0}")]
    NotEnrolled(String),
}

impl LogClient {
    /// Evidence for the entry at `index` under the checkpoint `note` (signed, and
    /// normally already verified by the caller): the entry with its tlog-proof, and
    /// the key-binding entries of the issuer's domain before `index`, each with its
    /// inclusion proof. An entry that is not a claimlog statement gets no bindings (its
    /// verification then fails at the statement check).
    pub async fn evidence(&self, note: &Note, index: u64) -> Result<Evidence, AssembleError> {
        let checkpoint = crate::checkpoint::Checkpoint::parse(note.text())
            .map_err(|e| AssembleError::Client(ClientError::Checkpoint(e)))?;
        let entry = self.entry(&checkpoint, index).await?;
        let domain = LogEntry::parse(&entry.entry)
            .ok()
            .and_then(|e| parse_statement(e.envelope.payload()).ok())
            .map(|s| match s.predicate {
                Predicate::DataHandling(dh) => dh.issuer.domain,
                Predicate::KeyBinding(kb) => kb.domain,
            });
        let mut bindings = Vec::new();
        if let Some(domain) = domain {
            let vendor = self
                .vendor(&domain)
                .await?
                .ok_or_else(|| AssembleError::NotEnrolled(domain.to_string()))?;
            let mut before: Vec<u64> = vendor
                .history
                .iter()
                .map(|v| v.log_index)
                .filter(|&i| i < index)
                .collect();
            before.sort_unstable();
            before.dedup();
            if before.len() > MAX_BINDINGS {
                return Err(AssembleError::Evidence(EvidenceError::Format {
                    line: 0,
                    reason: "the domain has more key bindings than one evidence file holds",
                }));
            }
            for i in before {
                let b = self.entry(&checkpoint, i).await?;
                bindings.push(BindingProof {
                    index: i,
                    entry: b.entry,
                    proof: b.proof,
                });
            }
        }
        let proof = ProofBundle::new(entry.entry, index, entry.proof, note.clone())
            .map_err(EvidenceError::Proof)?;
        Ok(Evidence::new(bindings, proof)?)
    }
}
