//! Opening fuzzed signed notes against the example tlog-policy (one log, six
//! witnesses, two levels of groups): never panics, and a checkpoint that
//! opens reports only witnesses of the policy.
#![no_main]

use std::sync::LazyLock;

use claimlog::note::Note;
use claimlog::policy::Policy;
use libfuzzer_sys::fuzz_target;

static POLICY: LazyLock<Policy> = LazyLock::new(|| {
    let text = include_bytes!("../../spec/vectors/policy/tlog-policy-example.txt");
    Policy::parse(text).expect("example policy parses")
});

fuzz_target!(|data: &[u8]| {
    let Ok(note) = Note::parse(data) else { return };
    if let Ok(checkpoint) = POLICY.open_checkpoint(&note) {
        let names = checkpoint
            .cosignatures()
            .iter()
            .map(|c| c.witness().as_bytes());
        let quorum = POLICY
            .quorum_satisfied(names)
            .expect("reported witnesses are known");
        assert_eq!(quorum, checkpoint.quorum_satisfied());
    }
});
