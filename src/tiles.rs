//! tiles: to be written.
