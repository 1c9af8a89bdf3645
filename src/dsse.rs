//! dsse: to be written.
