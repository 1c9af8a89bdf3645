//! witness_wire: to be written.
