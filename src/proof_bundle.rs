//! proof_bundle: to be written.
