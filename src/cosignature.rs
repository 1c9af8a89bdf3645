//! cosignature: to be written.
