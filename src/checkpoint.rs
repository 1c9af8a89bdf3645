//! checkpoint: to be written.
