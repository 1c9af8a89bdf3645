//! A strict pass over the exact payload bytes, before any typed parsing.
//!
//! serde derive rejects duplicate fields of a struct, but not duplicates inside
//! maps it skips, and serde_json silently turns `1.0`, `1e3` and integers beyond
//! 64 bits into floats. This pass walks the whole document once and rejects, with
//! the JSON path named: duplicate object keys anywhere (RFC 8259 §4 leaves them
//! undefined, so two readers could see two different claims), numbers that are not
//! integers, and `null` (our formats express "no claim" by omitting a field).

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

use super::ClaimError;
use super::strict_typed::Seen;

/// Checks `text` (already known to be UTF-8) and returns the first fault or, for a
/// clean document, the top-level `predicateType` if it is a string (so the typed parse
/// that follows needs no separate pass to choose the predicate).
pub(crate) fn check(text: &str) -> Result<Option<String>, ClaimError> {
    let fault = RefCell::new(None);
    let predicate_type = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_str(text);
    let walked = Walk {
        parent: None,
        step: Step::Root,
        fault: &fault,
        predicate_type: &predicate_type,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end());
    match (walked, fault.into_inner()) {
        (_, Some(fault)) => Err(fault),
        (Err(e), None) => Err(ClaimError::Json {
            message: e.to_string(),
        }),
        (Ok(()), None) => Ok(predicate_type.into_inner()),
    }
}

/// How a node is reached from its parent.
#[derive(Clone, Copy)]
enum Step<'a> {
    Root,
    Index(usize),
    Key(&'a str),
}

/// One node of the walk. The path is kept as a chain of steps and only spelled out
/// (`predicate.claims[0].id`) when there is a fault, so a valid document costs no
/// path allocations.
struct Walk<'a> {
    parent: Option<&'a Walk<'a>>,
    step: Step<'a>,
    fault: &'a RefCell<Option<ClaimError>>,
    predicate_type: &'a RefCell<Option<String>>,
}

impl Walk<'_> {
    /// Records `fault` and returns a serde error that stops the walk.
    fn fail<E: de::Error>(&self, fault: ClaimError) -> E {
        let message = fault.to_string();
        *self.fault.borrow_mut() = Some(fault);
        E::custom(message)
    }

    fn display_path(&self) -> String {
        let mut steps = Vec::new();
        let mut node = Some(self);
        while let Some(n) = node {
            steps.push(n.step);
            node = n.parent;
        }
        let mut path = String::new();
        for step in steps.iter().rev() {
            match step {
                Step::Root => {}
                Step::Index(i) => path.push_str(&format!("[{i}]")),
                Step::Key(k) if path.is_empty() => path.push_str(k),
                Step::Key(k) => {
                    path.push('.');
                    path.push_str(k);
                }
            }
        }
        if path.is_empty() {
            "(root)".to_owned()
        } else {
            path
        }
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        // serde_json reports every number with a fraction, an exponent, `-0`, or
        // a magnitude beyond 64 bits as f64.
        Err(self.fail(ClaimError::NonIntegerNumber {
            path: self.display_path(),
        }))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        if let (Step::Key("predicateType"), Some(parent)) = (self.step, self.parent)
            && parent.parent.is_none()
        {
            *self.predicate_type.borrow_mut() = Some(v.to_owned());
        }
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Err(self.fail(ClaimError::Null {
            path: self.display_path(),
        }))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0usize;
        loop {
            let element = Walk {
                parent: Some(&self),
                step: Step::Index(index),
                fault: self.fault,
                predicate_type: self.predicate_type,
            };
            if seq.next_element_seed(element)?.is_none() {
                return Ok(());
            }
            index += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = Seen::default();
        while let Some(key) = map.next_key_seed(CowStr)? {
            if seen.contains(&key) {
                return Err(self.fail(ClaimError::DuplicateKey {
                    path: self.display_path(),
                    key: key.into_owned(),
                }));
            }
            map.next_value_seed(Walk {
                parent: Some(&self),
                step: Step::Key(&key),
                fault: self.fault,
                predicate_type: self.predicate_type,
            })?;
            seen.push(key);
        }
        Ok(())
    }
}

/// A string (an object key or a value), borrowed from the input when it lends
/// it (no escapes), read as serde's `String` reads it (same expectation in
/// type errors).
pub(super) struct CowStr;

impl<'de> DeserializeSeed<'de> for CowStr {
    type Value = Cow<'de, str>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_string(self)
    }
}

impl<'de> Visitor<'de> for CowStr {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_documents() {
        assert_eq!(check(r#"{"a":[1,2,{"b":"c"}],"d":true,"e":-3}"#), Ok(None));
        assert_eq!(check(" [] \n"), Ok(None));
        assert_eq!(
            check(r#"{"predicateType":"x","p":{"predicateType":"y"}}"#),
            Ok(Some("x".into()))
        );
        assert_eq!(check(r#"{"p":{"predicateType":"y"}}"#), Ok(None));
    }

    #[test]
    fn rejects_duplicate_keys_with_path() {
        assert_eq!(
            check(r#"{"a":{"x":1,"x":2}}"#),
            Err(ClaimError::DuplicateKey {
                path: "a".into(),
                key: "x".into()
            })
        );
        assert_eq!(
            check(r#"{"a":1,"a":1}"#),
            Err(ClaimError::DuplicateKey {
                path: "(root)".into(),
                key: "a".into()
            })
        );
        // Escapes do not hide a duplicate: both spell "ab".
        assert_eq!(
            check(r#"{"ab":1,"a\u0062":1}"#),
            Err(ClaimError::DuplicateKey {
                path: "(root)".into(),
                key: "ab".into()
            })
        );
    }

    #[test]
    fn rejects_non_integers() {
        for bad in ["1.0", "1e3", "-0", "18446744073709551616", "0.5"] {
            let doc = format!(r#"{{"n":[{bad}]}}"#);
            assert_eq!(
                check(&doc),
                Err(ClaimError::NonIntegerNumber {
                    path: "n[0]".into()
                }),
                "{bad}"
            );
        }
    }

    #[test]
    fn rejects_null_and_syntax_errors() {
        assert_eq!(
            check(r#"{"n":null}"#),
            Err(ClaimError::Null { path: "n".into() })
        );
        for bad in ["{", "{} x", "[01]", r#"{"a":"\ud800"}"#, "{'a':1}", ""] {
            assert!(matches!(check(bad), Err(ClaimError::Json { .. })), "{bad}");
        }
    }
}
