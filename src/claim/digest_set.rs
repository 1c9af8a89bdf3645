//! The in-toto DigestSet of a statement's subject (in-toto attestation
//! framework, "ResourceDescriptor" `digest`), read straight from the JSON
//! object: every statement has one, and reading it through a map of owned
//! strings cost three allocations per statement.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::strict_json::CowStr;
use super::types::{Sha256Digest, StrictMap};

/// An in-toto DigestSet: `sha256` (required) and optionally `sha384`/`sha512`,
/// lowercase hex of the right length. Other algorithms are rejected rather than
/// ignored, like every unknown value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "StrictMap<String>")]
pub struct DigestSet {
    /// The SHA-256 digest.
    pub sha256: Sha256Digest,
    /// Other digests by algorithm.
    pub others: BTreeMap<String, String>,
}

impl TryFrom<StrictMap<String>> for DigestSet {
    type Error = String;
    fn try_from(map: StrictMap<String>) -> Result<Self, String> {
        let mut others = map.0;
        let sha256 = others.remove("sha256");
        DigestSet::check(sha256.as_deref(), others)
    }
}

impl From<DigestSet> for StrictMap<String> {
    fn from(d: DigestSet) -> Self {
        let mut map = d.others;
        map.insert("sha256".to_owned(), d.sha256.to_string());
        StrictMap(map)
    }
}

impl<'de> Deserialize<'de> for DigestSet {
    /// The same values and errors as `#[serde(try_from = "StrictMap<String>")]`
    /// with the `TryFrom` above (a test compares them): a repeated key is
    /// refused while the object is read (so serde_json adds its position), a
    /// missing or bad digest once it is read (no position, as `try_from`).
    /// Keys and the `sha256` value are borrowed from the input when it lends
    /// them; only other algorithms' entries are owned.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Entries;

        impl<'de> Visitor<'de> for Entries {
            type Value = Result<DigestSet, String>;

            // StrictMap's expectation, so type errors read the same.
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object without repeated keys")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut sha256: Option<Cow<'de, str>> = None;
                let mut others = BTreeMap::new();
                while let Some(key) = map.next_key_seed(CowStr)? {
                    let repeated = match &*key {
                        "sha256" => sha256.is_some(),
                        k => others.contains_key(k),
                    };
                    if repeated {
                        return Err(de::Error::custom(format!("duplicate key {key:?}")));
                    }
                    let value = map.next_value_seed(CowStr)?;
                    if key == "sha256" {
                        sha256 = Some(value);
                    } else {
                        others.insert(key.into_owned(), value.into_owned());
                    }
                }
                Ok(DigestSet::check(sha256.as_deref(), others))
            }
        }

        d.deserialize_map(Entries)?.map_err(de::Error::custom)
    }
}

impl DigestSet {
    /// Every check of a DigestSet, on its `sha256` entry and the others:
    /// `sha256` present and valid first, then each other algorithm in key
    /// order (shared by `Deserialize` and `TryFrom<StrictMap<String>>`).
    fn check(sha256: Option<&str>, others: BTreeMap<String, String>) -> Result<Self, String> {
        let sha256 = sha256.ok_or("digest needs sha256").and_then(|h| {
            Sha256Digest::parse(h).map_err(|_| "digest.sha256 is not 64 lowercase hex digits")
        })?;
        for (alg, hex) in &others {
            let len = match alg.as_str() {
                "sha384" => 96,
                "sha512" => 128,
                _ => return Err(format!("unsupported digest algorithm {alg:?}")),
            };
            if hex.len() != len
                || !hex
                    .bytes()
                    .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
            {
                return Err(format!("digest.{alg} is not {len} lowercase hex digits"));
            }
        }
        Ok(DigestSet { sha256, others })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference: the map of owned strings, then `TryFrom`.
    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(try_from = "StrictMap<String>")]
    struct Reference(DigestSet);

    impl TryFrom<StrictMap<String>> for Reference {
        type Error = String;
        fn try_from(m: StrictMap<String>) -> Result<Self, String> {
            DigestSet::try_from(m).map(Reference)
        }
    }

    /// Same values and same error texts (positions included) as the map of
    /// owned strings, on valid sets, every kind of fault, escapes and
    /// non-objects; directly and inside the strict single-pass parse.
    #[test]
    fn reads_as_the_owned_map_did() {
        let h = |n: usize| "ab".repeat(n / 2);
        let sha = h(64);
        let inputs = [
            format!(r#"{{"sha256":"{sha}"}}"#),
            format!(r#"{{ "sha256" : "{sha}" , "sha512":"{}"}}"#, h(128)),
            format!(r#"{{"sha384":"{}","sha256":"{sha}"}}"#, h(96)),
            format!(r#"{{"sha384":"{}","sha256":"{sha}"}}"#, h(94)),
            format!(r#"{{"sha512":"{}","sha256":"{sha}"}}"#, h(96)),
            format!(r#"{{"md5":"{}","sha256":"{sha}"}}"#, h(32)),
            format!(r#"{{"sha256":"{sha}","md5":"x","zz":"y"}}"#),
            format!(r#"{{"sha256":"{sha}","sha256":"{sha}"}}"#),
            format!(r#"{{"md5":"1","sha256":"{sha}","md5":"2"}}"#),
            format!(r#"{{"sha256":"{sha}"}}"#),
            format!(r#"{{"sha256":"a{}"}}"#, &sha[1..]),
            format!(r#"{{"sha256":"{}"}}"#, sha.to_uppercase()),
            format!(r#"{{"sha256":"{}"}}"#, &sha[2..]),
            r#"{"sha256":1}"#.to_owned(),
            r#"{"sha256":null}"#.to_owned(),
            format!(r#"{{"sha256":["{sha}"]}}"#),
            r#"{"sha384":"x"}"#.to_owned(),
            "{}".to_owned(),
            "[]".to_owned(),
            r#""sha256""#.to_owned(),
            "null".to_owned(),
            format!(r#"{{"sha256":"{sha}""#),
        ];
        for input in &inputs {
            let ours = serde_json::from_str::<DigestSet>(input).map_err(|e| e.to_string());
            let reference = serde_json::from_str::<Reference>(input)
                .map(|r| r.0)
                .map_err(|e| e.to_string());
            assert_eq!(ours, reference, "{input}");
            let strict = super::super::strict_typed::from_str::<DigestSet>(input);
            assert_eq!(
                strict,
                ours.clone().ok().filter(|_| !input.contains("null")),
                "{input}"
            );
        }
    }
}
