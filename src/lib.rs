//! claimlog: a transparency log for verifiable privacy claims.
//!
//! The crate is split into a pure core, one module per public standard, and an
//! I/O edge behind the default `server` feature.
//!
//! Pure core (no I/O, no clock; time and storage are passed in):
//! - [`merkle`]: RFC 9162 Merkle tree hashing, proofs and verification.
//! - [`tiles`]: C2SP tlog-tiles coordinates, paths and entry bundles.
//! - [`note`]: C2SP signed notes and note keys.
//! - [`checkpoint`]: C2SP tlog-checkpoint.
//! - [`cosignature`]: C2SP tlog-cosignature `cosignature/v1`.
//! - [`witness_wire`]: C2SP tlog-witness request and response bodies.
//! - [`proof_bundle`]: C2SP tlog-proof.
//! - [`policy`]: C2SP tlog-policy.
//! - [`dsse`]: DSSE v1 envelopes around in-toto Statements.
//! - [`ed25519`]: Ed25519 strict verification with prepared keys.
//! - [`claim`]: our privacy-claim and key-binding predicates: strict parsing,
//!   validation, series rules and diffs.
//! - [`entry`]: the log entry (an envelope plus its integration time).
//! - [`evidence`]: offline evidence bundles and the client-side verifier.
//! - [`view`]: a client's saved view of a log and the rule for advancing it.
//! - [`monitor`]: following a log and re-verifying every entry (pure state;
//!   the follow loop is `monitor::driver`, feature `server`).
//!
//! I/O edge (feature `server`): `server` (storage, sequencer, HTTP API) and
//! `client` (fetching checkpoints, tiles and entries from a log).

#![forbid(unsafe_code)]

pub mod checkpoint;
pub mod claim;
#[cfg(feature = "server")]
pub mod client;
pub mod cosignature;
pub mod dsse;
pub mod ed25519;
pub mod entry;
pub mod evidence;
mod lines;
pub mod merkle;
pub mod monitor;
pub mod note;
pub mod policy;
pub mod proof_bundle;
#[cfg(feature = "server")]
pub mod server;
pub mod tiles;
pub mod view;
pub mod witness_wire;
