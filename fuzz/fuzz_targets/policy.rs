//! tlog-policy files: parsing never panics, the canonical form parses back
//! to the same policy, and evaluating the quorum never panics.
#![no_main]

use claimlog::policy::Policy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(policy) = Policy::parse(data) {
        let text = policy.to_bytes();
        let again = Policy::parse(&text).expect("canonical policy must parse");
        assert_eq!(again, policy);
        assert_eq!(again.to_bytes(), text);
        let all: Vec<Vec<u8>> = policy
            .witnesses()
            .map(|w| w.name().as_bytes().to_vec())
            .collect();
        let odd = all.iter().step_by(2);
        policy
            .quorum_satisfied(&all)
            .expect("witness names are known");
        policy
            .quorum_satisfied(odd)
            .expect("witness names are known");
    }
});
