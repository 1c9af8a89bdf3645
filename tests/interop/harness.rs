//! The Go interop harness now lives in the `claimlog-tests` library as
//! [`claimlog_tests::go`], shared by every test file without copying. This
//! file re-exports it so that test files still including it with
//! `#[path = "../interop/harness.rs"] mod interop_harness;` keep working;
//! new code should `use claimlog_tests::go`.

#[allow(unused_imports)] // Each including test uses a different subset.
pub use claimlog_tests::go::*;
