//! The `claimlog` command.
fn main() {}
