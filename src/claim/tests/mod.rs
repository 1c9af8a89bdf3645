//! Cross-cutting tests: the worked example, `spec/examples`, every rejection path
//! with its named reason, and diff properties.

mod dpv_terms;
mod examples;
mod properties;
mod rejections;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use super::*;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/spec/examples/");

fn example(name: &str) -> Vec<u8> {
    std::fs::read(format!("{EXAMPLES}{name}")).unwrap()
}

fn ts(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn data_handling(bytes: &[u8]) -> DataHandling {
    match parse_and_validate(bytes).unwrap().predicate {
        Predicate::DataHandling(d) => d,
        Predicate::KeyBinding(_) => panic!("not a data-handling statement"),
    }
}

fn key_binding(bytes: &[u8]) -> KeyBinding {
    match parse_and_validate(bytes).unwrap().predicate {
        Predicate::KeyBinding(k) => k,
        Predicate::DataHandling(_) => panic!("not a key-binding statement"),
    }
}

/// The payload bytes of the worked example's DSSE envelope.
fn worked_example_payload() -> (Vec<u8>, Value) {
    let doc: Value = serde_json::from_slice(&example("claim-example.json")).unwrap();
    let payload = STANDARD
        .decode(doc["envelope"]["payload"].as_str().unwrap())
        .unwrap();
    (payload, doc)
}
