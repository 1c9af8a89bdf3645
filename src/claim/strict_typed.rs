//! The strict rules of [`super::strict_json`] enforced during the typed parse
//! itself, so that a valid statement is read once rather than twice (a strict
//! walk, then serde): the monitor parses every entry of a log.
//!
//! [`from_str`] wraps serde_json's deserializer so that every value the typed
//! parse reads is checked as it goes by: no `null`, no number that serde_json
//! reports as a float (a fraction, an exponent, `-0`, beyond 64 bits), no
//! object key twice (compared after unescaping). It answers only "this parses
//! strictly, to this value" or "no": anything it cannot vouch for (a value
//! skipped unread, a key that is not read as a string) is a "no". A caller
//! falls back on the two-pass parse for every "no", which then names the exact
//! fault, so the single pass changes no verdict and no error.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor,
};

/// Parses `text` as `T` in one pass, if it is strict JSON (see the module
/// doc) with no trailing data and `T` accepts it; `None` otherwise.
pub(crate) fn from_str<'de, T: de::Deserialize<'de>>(text: &'de str) -> Option<T> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = T::deserialize(Strict(&mut de)).ok()?;
    de.end().ok()?;
    Some(value)
}

/// Forwards each `deserialize_*` method to the inner deserializer, wrapping
/// the visitor with `$wrap`.
macro_rules! forward_deserialize {
    ($wrap:path; $($method:ident),*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
                self.0.$method($wrap(visitor))
            }
        )*
    };
}

/// Forwards each `visit_*` method taking a plain value to the inner visitor.
macro_rules! forward_visit {
    ($($method:ident: $ty:ty),*) => {
        $(
            fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
                self.0.$method(v)
            }
        )*
    };
}

/// Refuses each `visit_*` method taking a plain value.
macro_rules! refuse_visit {
    ($reason:expr; $($method:ident: $ty:ty),*) => {
        $(
            fn $method<E: de::Error>(self, _: $ty) -> Result<Self::Value, E> {
                Err(E::custom($reason))
            }
        )*
    };
}

/// A deserializer whose every value is strictly checked.
struct Strict<D>(D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Strict<D> {
    type Error = D::Error;

    forward_deserialize!(StrictVisitor::tracking_keys;
        deserialize_any, deserialize_bool, deserialize_i8, deserialize_i16, deserialize_i32,
        deserialize_i64, deserialize_i128, deserialize_u8, deserialize_u16, deserialize_u32,
        deserialize_u64, deserialize_u128, deserialize_f32, deserialize_f64, deserialize_char,
        deserialize_str, deserialize_string, deserialize_bytes, deserialize_byte_buf,
        deserialize_option, deserialize_unit, deserialize_seq, deserialize_map,
        deserialize_identifier);

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0
            .deserialize_unit_struct(name, StrictVisitor::tracking_keys(visitor))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0
            .deserialize_newtype_struct(name, StrictVisitor::tracking_keys(visitor))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0
            .deserialize_tuple(len, StrictVisitor::tracking_keys(visitor))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0
            .deserialize_tuple_struct(name, len, StrictVisitor::tracking_keys(visitor))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0
            .deserialize_struct(name, fields, StrictVisitor::struct_fields(visitor))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0
            .deserialize_enum(name, variants, StrictVisitor::tracking_keys(visitor))
    }

    /// A skipped value is not read, so it cannot be vouched for.
    fn deserialize_ignored_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("a skipped value is not strictly checked"))
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

/// A visitor that refuses `null` and floats and checks what it descends into.
/// The flag says whether the keys of an object it visits are recorded to
/// refuse repeats.
struct StrictVisitor<V>(V, bool);

impl<V> StrictVisitor<V> {
    /// For any value: repeated object keys are refused here.
    fn tracking_keys(visitor: V) -> Self {
        StrictVisitor(visitor, true)
    }

    /// For a struct (or struct variant), whose serde-derived visitor already
    /// refuses a field given twice (`duplicate_field`) and, with
    /// `deny_unknown_fields`, any other key; without it, other keys are skipped,
    /// which [`Strict`] refuses. So the keys need not be recorded again. This
    /// relies on the statement types deriving `Deserialize` without `flatten`
    /// or `alias` (a hand-written struct visitor that took a key twice would
    /// make this pass accept what the strict pass refuses).
    fn struct_fields(visitor: V) -> Self {
        StrictVisitor(visitor, false)
    }
}

impl<'de, V: Visitor<'de>> Visitor<'de> for StrictVisitor<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.0.expecting(f)
    }

    forward_visit!(visit_bool: bool, visit_i8: i8, visit_i16: i16, visit_i32: i32,
        visit_i64: i64, visit_i128: i128, visit_u8: u8, visit_u16: u16, visit_u32: u32,
        visit_u64: u64, visit_u128: u128, visit_char: char, visit_str: &str,
        visit_string: String, visit_bytes: &[u8], visit_byte_buf: Vec<u8>);

    // serde_json reports every number with a fraction, an exponent, `-0`, or
    // a magnitude beyond 64 bits as a float.
    refuse_visit!("not a 64-bit integer"; visit_f32: f32, visit_f64: f64);

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        self.0.visit_borrowed_str(v)
    }

    fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<Self::Value, E> {
        self.0.visit_borrowed_bytes(v)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(E::custom("null"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(E::custom("null"))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.0.visit_some(Strict(d))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.0.visit_newtype_struct(Strict(d))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.0.visit_seq(StrictSeq(seq))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.0.visit_map(StrictMap {
            map,
            seen: self.1.then(Seen::default),
        })
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        self.0.visit_enum(StrictEnum(data))
    }
}

/// A seed whose value is read through [`Strict`].
struct StrictSeed<T>(T);

impl<'de, T: DeserializeSeed<'de>> DeserializeSeed<'de> for StrictSeed<T> {
    type Value = T::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.0.deserialize(Strict(d))
    }
}

/// The elements of an array, each strictly checked.
struct StrictSeq<A>(A);

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for StrictSeq<A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        self.0.next_element_seed(StrictSeed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

/// The members of an object: values strictly checked, keys recorded (as
/// unescaped) and refused when repeated.
struct StrictMap<'de, A> {
    map: A,
    /// `None` for the fields of a struct (see [`StrictVisitor::struct_fields`]).
    seen: Option<Seen<'de>>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for StrictMap<'de, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        match &mut self.seen {
            Some(seen) => self.map.next_key_seed(KeySeed { seed, seen }),
            None => self.map.next_key_seed(seed),
        }
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        self.map.next_value_seed(StrictSeed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

/// The keys of one object read so far. Objects in statements have a handful
/// of keys, so the first few are kept inline as borrowed slices of the input
/// (no allocation, nothing to drop) and scanned linearly; keys with escapes
/// (owned once unescaped) and the keys of large objects go to a set, so large
/// objects stay O(n log n).
pub(super) struct Seen<'de> {
    inline: [&'de str; INLINE_KEYS],
    len: usize,
    more: BTreeSet<Cow<'de, str>>,
}

/// Keys of an object kept inline by [`Seen`].
const INLINE_KEYS: usize = 16;

impl Default for Seen<'_> {
    fn default() -> Self {
        Seen {
            inline: [""; INLINE_KEYS],
            len: 0,
            more: BTreeSet::new(),
        }
    }
}

impl<'de> Seen<'de> {
    /// Records `key`; false if it was already there.
    fn insert(&mut self, key: Cow<'de, str>) -> bool {
        if self.contains(&key) {
            return false;
        }
        self.push(key);
        true
    }

    /// Whether `key` was recorded.
    pub(super) fn contains(&self, key: &str) -> bool {
        // `BTreeSet::new` does not allocate, and an empty set answers at once.
        self.inline[..self.len].contains(&key) || (!self.more.is_empty() && self.more.contains(key))
    }

    /// Records `key`, which the caller found not [`Seen::contains`].
    pub(super) fn push(&mut self, key: Cow<'de, str>) {
        match key {
            Cow::Borrowed(k) if self.len < INLINE_KEYS => {
                self.inline[self.len] = k;
                self.len += 1;
            }
            key => {
                self.more.insert(key);
            }
        }
    }
}

/// Reads an object key through [`KeyDeserializer`].
struct KeySeed<'s, 'de, K> {
    seed: K,
    seen: &'s mut Seen<'de>,
}

impl<'de, K: DeserializeSeed<'de>> DeserializeSeed<'de> for KeySeed<'_, 'de, K> {
    type Value = K::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.seed.deserialize(KeyDeserializer {
            inner: d,
            seen: self.seen,
        })
    }
}

/// The deserializer of an object key: whatever the key type asks for, the
/// key must arrive as a string, which is recorded before the key type sees it.
struct KeyDeserializer<'s, 'de, D> {
    inner: D,
    seen: &'s mut Seen<'de>,
}

macro_rules! forward_key_deserialize {
    ($($method:ident),*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
                self.inner.$method(KeyVisitor { inner: visitor, seen: self.seen })
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for KeyDeserializer<'_, 'de, D> {
    type Error = D::Error;

    forward_key_deserialize!(
        deserialize_any,
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_option,
        deserialize_unit,
        deserialize_seq,
        deserialize_map,
        deserialize_identifier,
        deserialize_ignored_any
    );

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.deserialize_any(visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

/// Records a key read as a string; refuses a repeated key, and a key read in
/// any other form (it could not be compared).
struct KeyVisitor<'s, 'de, V> {
    inner: V,
    seen: &'s mut Seen<'de>,
}

impl<'de, V> KeyVisitor<'_, 'de, V> {
    fn record<E: de::Error>(&mut self, key: Cow<'de, str>) -> Result<(), E> {
        if self.seen.insert(key) {
            Ok(())
        } else {
            Err(E::custom("duplicate key"))
        }
    }
}

impl<'de, V: Visitor<'de>> Visitor<'de> for KeyVisitor<'_, 'de, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.inner.expecting(f)
    }

    fn visit_borrowed_str<E: de::Error>(mut self, v: &'de str) -> Result<Self::Value, E> {
        self.record(Cow::Borrowed(v))?;
        self.inner.visit_borrowed_str(v)
    }

    fn visit_str<E: de::Error>(mut self, v: &str) -> Result<Self::Value, E> {
        self.record(Cow::Owned(v.to_owned()))?;
        self.inner.visit_str(v)
    }

    fn visit_string<E: de::Error>(mut self, v: String) -> Result<Self::Value, E> {
        self.record(Cow::Owned(v.clone()))?;
        self.inner.visit_string(v)
    }

    refuse_visit!("a key not read as a string"; visit_bool: bool, visit_i8: i8, visit_i16: i16,
        visit_i32: i32, visit_i64: i64, visit_i128: i128, visit_u8: u8, visit_u16: u16,
        visit_u32: u32, visit_u64: u64, visit_u128: u128, visit_f32: f32, visit_f64: f64,
        visit_char: char, visit_bytes: &[u8], visit_byte_buf: Vec<u8>);

    fn visit_borrowed_bytes<E: de::Error>(self, _: &'de [u8]) -> Result<Self::Value, E> {
        Err(E::custom("a key not read as a string"))
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(E::custom("a key not read as a string"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(E::custom("a key not read as a string"))
    }

    fn visit_some<D: Deserializer<'de>>(self, _: D) -> Result<Self::Value, D::Error> {
        Err(de::Error::custom("a key not read as a string"))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, _: D) -> Result<Self::Value, D::Error> {
        Err(de::Error::custom("a key not read as a string"))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(de::Error::custom("a key not read as a string"))
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(de::Error::custom("a key not read as a string"))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(de::Error::custom("a key not read as a string"))
    }
}

/// An enum's variant, whose content (if any) is strictly checked. The variant
/// name is a JSON string (a unit variant) or the single key of an object.
struct StrictEnum<A>(A);

impl<'de, A: EnumAccess<'de>> EnumAccess<'de> for StrictEnum<A> {
    type Error = A::Error;
    type Variant = StrictVariant<A::Variant>;

    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, Self::Variant), A::Error> {
        let (value, variant) = self.0.variant_seed(seed)?;
        Ok((value, StrictVariant(variant)))
    }
}

/// The content of an enum variant, strictly checked.
struct StrictVariant<A>(A);

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for StrictVariant<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.0.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        self.0.newtype_variant_seed(StrictSeed(seed))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.0
            .tuple_variant(len, StrictVisitor::tracking_keys(visitor))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.0
            .struct_variant(fields, StrictVisitor::struct_fields(visitor))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        n: Option<u64>,
        s: Option<String>,
        #[serde(default)]
        m: BTreeMap<String, i64>,
        #[serde(default)]
        v: Vec<u64>,
        e: Option<Kind>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Kind {
        Plain,
        Wrapped(u64),
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Open {
        a: u64,
    }

    #[test]
    fn accepts_what_the_strict_pass_accepts_with_the_same_value() {
        let text = r#"{"n":7,"s":"a\u0062","m":{"x":-1,"y":2},"v":[1,2],"e":{"wrapped":3}}"#;
        let fast: Option<Doc> = from_str(text);
        assert_eq!(super::super::strict_json::check(text), Ok(None));
        assert_eq!(fast, Some(serde_json::from_str::<Doc>(text).unwrap()));
        assert_eq!(
            from_str::<Doc>(r#"{"e":"plain"}"#).map(|d| d.e),
            Some(Some(Kind::Plain))
        );
    }

    #[test]
    fn refuses_what_the_strict_pass_refuses() {
        for bad in [
            r#"{"n":null}"#,
            r#"{"n":1.0}"#,
            r#"{"n":1e3}"#,
            r#"{"v":[-0]}"#,
            r#"{"n":18446744073709551616}"#,
            r#"{"m":{"x":1,"x":2}}"#,
            // Escapes do not hide a duplicate: both spell "xy".
            r#"{"m":{"xy":1,"x\u0079":2}}"#,
            r#"{"n":1,"n":1}"#,
            r#"{"s":"a"} x"#,
            r#"{"m":{"x":1.5}}"#,
            r#"{"e":{"wrapped":1.5}}"#,
        ] {
            assert!(super::super::strict_json::check(bad).is_err(), "{bad}");
            assert_eq!(from_str::<Doc>(bad), None, "{bad}");
        }
    }

    /// Every statement in `spec/examples`, and variants of each with one
    /// strict-rule fault, a syntax fault or a schema fault: the single pass
    /// either gives exactly what the two-pass parse gives, or declines.
    #[test]
    fn single_pass_agrees_with_two_passes_on_the_examples() {
        use super::super::{parse_statement_single_pass, parse_statement_two_pass};
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/spec/examples/");
        let mut statements = 0;
        let mut fast = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            if !text.contains("in-toto.io/Statement") {
                continue;
            }
            statements += 1;
            let mut variants = vec![text.clone()];
            for (from, to) in [
                ("\"sequence\": ", "\"sequence\": null, \"x\": "),
                ("\"sequence\": 1", "\"sequence\": 1.0"),
                ("\"sequence\": 1", "\"sequence\": -0"),
                ("\"sequence\":", "\"sequence\": 1, \"sequence\":"),
                ("\"predicate\": {", "\"predicate\": {\"extra\": 1, "),
                ("\"subject\": [", "\"subject\": [null, "),
                ("\"predicateType\": ", "\"predicateType\": 1, \"p\": "),
                (
                    "\"_type\": \"https://in-toto.io/Statement/v1\"",
                    "\"_type\": \"x\"",
                ),
                ("}", "}}"),
            ] {
                if text.contains(from) {
                    variants.push(text.replacen(from, to, 1));
                }
            }
            variants.push(format!("{text} 1"));
            for v in &variants {
                if let Some(parsed) = parse_statement_single_pass(v) {
                    fast += 1;
                    assert_eq!(Ok(parsed), parse_statement_two_pass(v), "{v}");
                }
            }
            // The unchanged statement is read in one pass.
            assert!(
                parse_statement_single_pass(&text).is_some()
                    || parse_statement_two_pass(&text).is_err()
            );
        }
        assert!(statements >= 5, "only {statements} example statements");
        assert!(
            fast >= statements / 2,
            "the single pass declined {fast} of {statements}"
        );
    }

    #[test]
    fn predicate_type_guess() {
        use super::super::{DATA_HANDLING_V1, KEY_BINDING_V1, guess_predicate_type};
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/spec/examples/");
        for (file, want) in [
            ("data-handling-1.json", DATA_HANDLING_V1),
            ("data-handling-3.json", DATA_HANDLING_V1),
            ("key-binding-1-enroll.json", KEY_BINDING_V1),
            ("key-binding-3-revoke.json", KEY_BINDING_V1),
        ] {
            let text = std::fs::read_to_string(format!("{dir}{file}")).unwrap();
            assert_eq!(guess_predicate_type(&text), Some(want), "{file}");
        }
        let kb = format!(r#"{{"predicateType" :	"{KEY_BINDING_V1}"}}"#);
        assert_eq!(guess_predicate_type(&kb), Some(KEY_BINDING_V1));
        // The last occurrence decides: a type named inside the predicate does not.
        let dh = format!(
            r#"{{"predicate":{{"predicateType":"{KEY_BINDING_V1}"}},"predicateType":"{DATA_HANDLING_V1}"}}"#
        );
        assert_eq!(guess_predicate_type(&dh), Some(DATA_HANDLING_V1));
        for none in [
            String::new(),
            r#"{"predicateType":"x"}"#.into(),
            format!(r#"{{"predicateType":"{KEY_BINDING_V1}/x"}}"#),
            format!(r#"{{"predicateType":1,"x":"{KEY_BINDING_V1}"}}"#),
            r#"{"predicateType""#.into(),
        ] {
            assert_eq!(guess_predicate_type(&none), None, "{none}");
        }
    }

    #[test]
    fn duplicates_are_found_in_large_objects() {
        let keys: Vec<String> = (0..40).map(|i| format!("\"k{i}\":{i}")).collect();
        let text = format!("{{{}}}", keys.join(","));
        assert_eq!(
            from_str::<BTreeMap<String, u64>>(&text).map(|m| m.len()),
            Some(40)
        );
        for dup in [0, 5, 11, 12, 13, 39] {
            let text = format!("{{{},\"k{dup}\":1}}", keys.join(","));
            assert_eq!(from_str::<BTreeMap<String, u64>>(&text), None, "k{dup}");
            assert!(super::super::strict_json::check(&text).is_err());
        }
    }

    #[test]
    fn refuses_what_it_cannot_vouch_for() {
        // Serde parses it (the unknown field is skipped) and the strict pass
        // accepts it, but the skipped value was never read: the single pass
        // says no and leaves the verdict to the two-pass parse.
        let text = r#"{"a":1,"b":[2]}"#;
        assert!(serde_json::from_str::<Open>(text).is_ok());
        assert_eq!(super::super::strict_json::check(text), Ok(None));
        assert_eq!(from_str::<Open>(text), None);
        assert_eq!(from_str::<Open>(r#"{"a":1}"#), Some(Open { a: 1 }));
        // Struct fields are not recorded by this pass; the derived visitor
        // refuses a repeated field itself, however it is spelled.
        for repeated in [r#"{"a":1,"a":1}"#, r#"{"a":1,"\u0061":2}"#] {
            assert!(super::super::strict_json::check(repeated).is_err());
            assert_eq!(from_str::<Open>(repeated), None, "{repeated}");
        }
        for repeated in [r#"{"n":1,"n":2}"#, r#"{"n":1,"\u006e":2}"#] {
            assert!(super::super::strict_json::check(repeated).is_err());
            assert_eq!(from_str::<Doc>(repeated), None, "{repeated}");
        }
        // Unless a key is given twice inside a map that is a field's value.
        assert_eq!(from_str::<Doc>(r#"{"m":{"x":1,"\u0078":2}}"#), None);
        // Keys not read as strings cannot be compared.
        assert_eq!(from_str::<BTreeMap<u64, u64>>(r#"{"1":1}"#), None);
    }
}
