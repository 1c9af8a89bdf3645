//! Small newtypes shared by both predicates. Each exists only if its text was well
//! formed, so the rest of the module never re-checks syntax.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest as _, Sha256};

use super::small_str::SmallStr;
pub use super::term::Term;

/// Declares a text newtype whose constructor is `check`, with serde, `Display`,
/// `AsRef<str>` and `as_str`. The text is a [`SmallStr`] (inline when short);
/// order, equality, hash, `Debug`, JSON and errors are those of the text, as
/// when it was a `String`.
macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(SmallStr);

        impl $name {
            /// Parses and checks `text`.
            pub fn parse(text: &str) -> Result<Self, String> {
                let check: fn(&str) -> Result<(), String> = $check;
                check(text).map(|()| Self(SmallStr::new(text)))
            }

            /// The text.
            pub fn as_str(&self) -> &str {
                self.0.as_str()
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                let check: fn(&str) -> Result<(), String> = $check;
                check(&s).map(|()| Self(SmallStr::from_string(s)))
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0.into_string()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// Compares the text's bytes, without making a `&str` of it first.
        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0.as_bytes() == other.as_bytes()
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        /// The text, as a JSON string.
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        /// Read in place ([`deserialize_parsed`]): the same values and
        /// errors as `#[serde(try_from = "String")]`, without a `String`.
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                deserialize_parsed(d, Self::parse)
            }
        }
    };
}

string_newtype!(
    /// A DNS name in lowercase LDH form (`chat.example`): 2..=127 labels of 1..=63
    /// characters `[a-z0-9-]`, no hyphen at a label's ends, no trailing dot, at most
    /// 253 characters. Lowercase only, so one domain has one spelling (RFC 4343).
    Domain,
    |s| {
        // Byte-wise splits: the generic `char` pattern searcher costs more than
        // the checks on these short strings.
        let labels = || s.as_bytes().split(|&c| c == b'.');
        let ok = s.len() <= 253
            && labels().nth(1).is_some()
            && labels().all(|l| {
                (1..=63).contains(&l.len())
                    && l.iter().all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
                    && !l.starts_with(b"-")
                    && !l.ends_with(b"-")
            });
        if ok { Ok(()) } else { Err(format!("invalid domain {s:?}: want lowercase LDH labels like chat.example")) }
    }
);

string_newtype!(
    /// A stable identifier chosen by the issuer (claim ids, service ids):
    /// `[a-z0-9]+(-[a-z0-9]+)*`, at most 64 characters.
    Identifier,
    |s| {
        let ok = (1..=64).contains(&s.len())
            && s.as_bytes().split(|&c| c == b'-').all(|p| !p.is_empty() && p.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
        if ok { Ok(()) } else { Err(format!("invalid identifier {s:?}: want lowercase words joined by '-', at most 64 characters")) }
    }
);

string_newtype!(
    /// Human-readable text: 1..=8192 bytes, no control characters other than
    /// newline, no leading or trailing whitespace.
    Text,
    |s| {
        let ok = (1..=8192).contains(&s.len())
            && printable_trimmed(s, true);
        if ok { Ok(()) } else { Err(format!("invalid text {:?}: must be 1..=8192 bytes, trimmed, without control characters", truncate(s))) }
    }
);

string_newtype!(
    /// A BCP 47 language tag in its common shape: a 2-3 letter lowercase primary
    /// language, then subtags of 1..=8 letters or digits (`en`, `zh-CN`, `sr-Latn-RS`).
    LanguageTag,
    |s| {
        let mut parts = s.as_bytes().split(|&c| c == b'-');
        let primary = parts.next().unwrap_or_default();
        let ok = s.len() <= 35
            && (2..=3).contains(&primary.len())
            && primary.iter().all(|c| c.is_ascii_lowercase())
            && parts.all(|p| (1..=8).contains(&p.len()) && p.iter().all(|c| c.is_ascii_alphanumeric()));
        if ok { Ok(()) } else { Err(format!("invalid language tag {s:?}")) }
    }
);

string_newtype!(
    /// An `https://` URL with a host, at most 2048 bytes, printable ASCII only
    /// (internationalised names must be written in their ASCII form).
    HttpsUrl,
    |s| {
        let host = s.strip_prefix("https://").map(|r| r.split(['/', '?', '#']).next().unwrap_or_default());
        let ok = s.len() <= 2048
            && s.bytes().all(|c| c.is_ascii_graphic())
            && host.is_some_and(|h| !h.is_empty() && !h.contains('@'));
        if ok { Ok(()) } else { Err(format!("invalid URL {:?}: want https://host/...", truncate(s))) }
    }
);

string_newtype!(
    /// A contact address: a `mailto:` address or an `https://` URL, printable ASCII,
    /// at most 2048 bytes.
    Contact,
    |s| {
        let mail = s.strip_prefix("mailto:").is_some_and(|a| a.split_once('@').is_some_and(|(l, d)| !l.is_empty() && !d.is_empty()));
        let ok = s.len() <= 2048
            && s.bytes().all(|c| c.is_ascii_graphic())
            && (mail || HttpsUrl::parse(s).is_ok());
        if ok { Ok(()) } else { Err(format!("invalid contact {:?}: want mailto:user@host or an https URL", truncate(s))) }
    }
);

string_newtype!(
    /// Free text chosen by a third party, such as an app-store id or a store label
    /// value: 1..=200 bytes of printable characters, no surrounding whitespace.
    Label,
    |s| {
        let ok = (1..=200).contains(&s.len()) && printable_trimmed(s, false);
        if ok { Ok(()) } else { Err(format!("invalid label {:?}: 1..=200 printable bytes", truncate(s))) }
    }
);

/// Whether `s` has no control characters (other than newline, if `newline`) and
/// no leading or trailing whitespace. ASCII text, the common case, is checked
/// byte by byte; other text by `char` (Unicode controls and whitespace).
fn printable_trimmed(s: &str, newline: bool) -> bool {
    // For ASCII, `char::is_control` is 0x00..=0x1F and 0x7F, and
    // `char::is_whitespace` is space, \t, \n, \x0B, \x0C, \r.
    let space = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r');
    for &c in s.as_bytes() {
        if !c.is_ascii() {
            return s.chars().all(|c| (newline && c == '\n') || !c.is_control()) && s.trim() == s;
        }
        if (c < 0x20 && !(newline && c == b'\n')) || c == 0x7F {
            return false;
        }
    }
    !s.as_bytes().first().is_some_and(space) && !s.as_bytes().last().is_some_and(space)
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

/// Deserializes a string with `parse`, reading it in place when the input lends
/// it: the same values and errors as `#[serde(try_from = "String")]` with a
/// `TryFrom<String>` that calls `parse`, without the copy.
pub(super) fn deserialize_parsed<'de, D, T>(
    d: D,
    parse: fn(&str) -> Result<T, String>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    struct Parsed<T>(fn(&str) -> Result<T, String>);

    impl<T> Visitor<'_> for Parsed<T> {
        type Value = Result<T, String>;

        // What serde's `String` visitor expects, so type errors read the same.
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok((self.0)(v))
        }
    }

    // A parse error is raised only once the string has been read, as `try_from`
    // does: raised inside the visitor, serde_json would append a position to it.
    d.deserialize_string(Parsed(parse))?
        .map_err(de::Error::custom)
}

/// A SHA-256 digest written as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(into = "String")]
pub struct Sha256Digest(pub [u8; 32]);

impl Sha256Digest {
    /// SHA-256 of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// Parses exactly 64 lowercase hex digits.
    pub fn parse(text: &str) -> Result<Self, String> {
        let b = text.as_bytes();
        let mut out = [0u8; 32];
        // Branch-free over a table (0xFF marks a non-digit): a monitor parses
        // several digests per log entry (keyids, `supersedes`, subjects).
        let mut bad = 0u8;
        for (o, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
            let (h, l) = (HEX[usize::from(pair[0])], HEX[usize::from(pair[1])]);
            bad |= h | l;
            *o = h << 4 | l;
        }
        if bad & 0xF0 != 0 || b.len() != 64 {
            return Err(format!(
                "invalid sha256 {:?}: want 64 lowercase hex digits",
                truncate(text)
            ));
        }
        Ok(Self(out))
    }
}

/// The value of each lowercase hex digit, 0xFF for every other byte.
const HEX: [u8; 256] = {
    let mut t = [0xFF; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One write of the 64 digits rather than 32 formatted ones: digests
        // are rendered for every log entry a monitor checks (keyids, event
        // fields). Like the per-byte form, it ignores width and fill.
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut hex = [0u8; 64];
        for (pair, b) in hex.chunks_exact_mut(2).zip(self.0) {
            pair[0] = DIGITS[usize::from(b >> 4)];
            pair[1] = DIGITS[usize::from(b & 0x0f)];
        }
        // Only ASCII hex digits were written.
        f.write_str(std::str::from_utf8(&hex).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Digest({self})")
    }
}

impl<'de> Deserialize<'de> for Sha256Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_parsed(d, Self::parse)
    }
}

impl TryFrom<String> for Sha256Digest {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<Sha256Digest> for String {
    fn from(d: Sha256Digest) -> String {
        d.to_string()
    }
}

/// An Ed25519 public key written as strict padded base64 of its 32 bytes. Keys that
/// do not decode to a curve point, and small-order ("weak") keys, are rejected.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "String")]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    /// Parses strict base64 (standard alphabet, padded, canonical trailing bits).
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "invalid Ed25519 public key {:?}: want base64 of 32 bytes",
                truncate(text)
            )
        };
        let bytes = STANDARD.decode(text).map_err(|_| bad())?;
        let raw: [u8; 32] = bytes.try_into().map_err(|_| bad())?;
        // The base64 engine accepts non-zero trailing bits; a key has one spelling.
        if STANDARD.encode(raw) != text {
            return Err(bad());
        }
        let key = ed25519_dalek::VerifyingKey::from_bytes(&raw).map_err(|_| bad())?;
        if key.is_weak() {
            return Err(format!("Ed25519 public key {text:?} has small order"));
        }
        Ok(Self(raw))
    }

    /// The key id used by DSSE signatures and bindings: SHA-256 of the raw 32 bytes.
    pub fn keyid(&self) -> Sha256Digest {
        Sha256Digest::of(&self.0)
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&STANDARD.encode(self.0))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_parsed(d, Self::parse)
    }
}

impl TryFrom<String> for PublicKey {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<PublicKey> for String {
    fn from(k: PublicKey) -> String {
        k.to_string()
    }
}

/// A JSON object with string keys parsed into a sorted map that rejects a repeated
/// key itself, rather than keeping the last value as serde's maps do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StrictMap<V>(pub BTreeMap<String, V>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for StrictMap<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MapVisitor<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for MapVisitor<V> {
            type Value = StrictMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object without repeated keys")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = BTreeMap::new();
                while let Some(key) = map.next_key::<String>()? {
                    if out.contains_key(&key) {
                        return Err(de::Error::custom(format!("duplicate key {key:?}")));
                    }
                    let value = map.next_value()?;
                    out.insert(key, value);
                }
                Ok(StrictMap(out))
            }
        }
        d.deserialize_map(MapVisitor(std::marker::PhantomData))
    }
}

/// A reference to the previous version of a series: where the log put it and the
/// hash of its exact payload bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Supersedes {
    /// The previous version's `sequence`.
    pub sequence: u64,
    /// The previous version's index in the log.
    pub log_index: u64,
    /// Hex SHA-256 of the previous version's exact payload bytes.
    pub statement_sha256: Sha256Digest,
}

impl fmt::Display for Supersedes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{{sequence {}, logIndex {}, statementSha256 {}}}",
            self.sequence, self.log_index, self.statement_sha256
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `deserialize_parsed` gives exactly what `#[serde(try_from = "String")]`
    /// gave before: the same values and the same error messages, escapes and
    /// all, for each type that uses it.
    #[test]
    fn parsed_strings_read_as_through_an_owned_string() {
        macro_rules! same_as_try_from {
            ($ty:ty, $($input:expr),*) => {{
                #[derive(Debug, PartialEq, Deserialize)]
                #[serde(try_from = "String")]
                struct Reference($ty);
                impl TryFrom<String> for Reference {
                    type Error = String;
                    fn try_from(s: String) -> Result<Self, String> {
                        <$ty>::parse(&s).map(Reference)
                    }
                }
                for input in [$($input),*] {
                    let ours = serde_json::from_str::<$ty>(input).map_err(|e| e.to_string());
                    let reference = serde_json::from_str::<Reference>(input)
                        .map(|r| r.0)
                        .map_err(|e| e.to_string());
                    assert_eq!(ours, reference, "{input}");
                }
            }};
        }
        let digest = format!("\"{}\"", "ab".repeat(32));
        let escaped = format!("\"\\u0061{}\"", "b".repeat(63));
        same_as_try_from!(
            Sha256Digest,
            &digest,
            &escaped,
            "\"AB\"",
            "1",
            "null",
            "[]",
            "\"x"
        );
        let key = format!("\"{}\"", STANDARD.encode([7u8; 32]));
        same_as_try_from!(PublicKey, &key, "\"AAAA\"", "true", "{}");
        same_as_try_from!(
            super::super::Timestamp,
            "\"2026-01-15T08:00:00Z\"",
            "\"2026-01-15T08:00:00\\u005a\"",
            "\"2026-13-15T08:00:00Z\"",
            "0"
        );
        same_as_try_from!(
            super::super::IsoDuration,
            "\"PT72H\"",
            "\"P1DT12H\"",
            "\"P\"",
            "\"PT-1H\"",
            "-1"
        );
        // The text newtypes: the reference goes through `TryFrom<String>`
        // (as the derive did), ours reads in place; both sides of the inline
        // limit, escapes, non-ASCII, faults, non-strings.
        let long = format!("\"{}\"", "a".repeat(40));
        let long_text = format!("\"{}\"", "Long text ".repeat(30).trim_end());
        macro_rules! same_via_try_from_string {
            ($($ty:ty),*) => {$({
                #[derive(Debug, PartialEq, Deserialize)]
                #[serde(try_from = "String")]
                struct ViaString($ty);
                impl TryFrom<String> for ViaString {
                    type Error = String;
                    fn try_from(s: String) -> Result<Self, String> {
                        <$ty>::try_from(s).map(ViaString)
                    }
                }
                for input in [
                    "\"chat.example\"", "\"chat-content\"", "\"en\"", "\"zh-CN\"",
                    "\"https://chat.example/x\"", "\"mailto:a@b.example\"",
                    "\"ExampleChat Ltd.\"", "\"\\u0063hat.example\"", "\"caf\u{e9} \u{1f600}\"",
                    long.as_str(), long_text.as_str(), "\" padded \"", "\"\"", "\"A.B\"",
                    "\"a\\nb\"", "1", "null", "[\"x\"]", "{}", "\"x",
                ] {
                    let ours = serde_json::from_str::<$ty>(input).map_err(|e| e.to_string());
                    let reference = serde_json::from_str::<ViaString>(input)
                        .map(|r| r.0)
                        .map_err(|e| e.to_string());
                    assert_eq!(ours, reference, "{input}");
                    if let Ok(v) = &ours {
                        // The text and its JSON are the input's.
                        let text: String = serde_json::from_str(input).unwrap();
                        assert_eq!(v.as_str(), text);
                        assert_eq!(String::from(v.clone()), text);
                        assert_eq!(v.to_string(), text);
                        assert_eq!(serde_json::to_string(v).unwrap(), serde_json::to_string(&text).unwrap());
                        assert_eq!(format!("{v:?}"), format!("{}({text:?})", stringify!($ty)));
                        assert_eq!(<$ty>::parse(&text).as_ref(), Ok(v));
                    }
                }
            })*};
        }
        same_via_try_from_string!(
            Domain,
            Identifier,
            Text,
            LanguageTag,
            HttpsUrl,
            Contact,
            Label
        );
    }

    /// The definition the byte-wise fast path of `printable_trimmed` must agree with.
    fn printable_trimmed_by_char(s: &str, newline: bool) -> bool {
        s.chars().all(|c| (newline && c == '\n') || !c.is_control()) && s.trim() == s
    }

    #[test]
    fn printable_trimmed_agrees_with_the_char_definition() {
        let pieces = [
            "a", " ", "\n", "\t", "\r", "\x0b", "\x0c", "\x00", "\x1f", "\x7f", "~", "é", "\u{85}",
            "\u{a0}", "\u{2028}", "\u{3000}", "\u{9f}", "-",
        ];
        // Every string of up to three pieces: each position, each class of byte.
        let mut texts = vec![String::new()];
        for _ in 0..3 {
            let mut longer = Vec::new();
            for t in &texts {
                for p in pieces {
                    longer.push(format!("{t}{p}"));
                }
            }
            texts.extend(longer);
        }
        for t in &texts {
            for newline in [false, true] {
                assert_eq!(
                    printable_trimmed(t, newline),
                    printable_trimmed_by_char(t, newline),
                    "{t:?} {newline}"
                );
            }
        }
        // Every ASCII byte alone and inside text.
        for b in 0u8..=127 {
            let c = char::from(b);
            for t in [c.to_string(), format!("a{c}b")] {
                for newline in [false, true] {
                    assert_eq!(
                        printable_trimmed(&t, newline),
                        printable_trimmed_by_char(&t, newline),
                        "{t:?} {newline}"
                    );
                }
            }
        }
    }

    #[test]
    fn domains() {
        for ok in [
            "chat.example",
            "a.b.c",
            "xn--bcher-kva.example",
            "1.example",
        ] {
            assert!(Domain::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "example",
            "Chat.example",
            "chat.example.",
            "-a.example",
            "a-.example",
            "a..b",
            "a_b.example",
            "",
        ] {
            assert!(Domain::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn identifiers_terms_and_tags() {
        assert!(Identifier::parse("chat-content").is_ok());
        for bad in ["Chat", "a--b", "-a", "a-", "", "a b", &"a".repeat(65)] {
            assert!(Identifier::parse(bad).is_err(), "{bad}");
        }
        for ok in [
            "dpv:Analyse",
            "pd:Communication",
            "ai:ModelTraining",
            "user-device",
            "googlePlay",
            "eu-gdpr:A6",
        ] {
            assert!(Term::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "dpv:",
            ":X",
            "DPV:X",
            "dpv:Ana lyse",
            "User-device",
            "a--b",
            "x:y:z",
            "",
        ] {
            assert!(Term::parse(bad).is_err(), "{bad}");
        }
        for ok in ["en", "zh-CN", "sr-Latn-RS"] {
            assert!(LanguageTag::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["EN", "e", "en_US", "en-", "english"] {
            assert!(LanguageTag::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls_contacts_texts() {
        assert!(HttpsUrl::parse("https://chat.example/legal/privacy.html").is_ok());
        for bad in [
            "http://chat.example/",
            "https://",
            "https:///x",
            "https://a b",
            "https://u@evil/",
        ] {
            assert!(HttpsUrl::parse(bad).is_err(), "{bad}");
        }
        assert!(Contact::parse("mailto:privacy@chat.example").is_ok());
        assert!(Contact::parse("https://chat.example/contact").is_ok());
        for bad in ["mailto:", "mailto:@x", "privacy@chat.example", "tel:+1"] {
            assert!(Contact::parse(bad).is_err(), "{bad}");
        }
        assert!(Text::parse("line one\nline two").is_ok());
        for bad in ["", " padded", "tab\there", "bell\u{7}"] {
            assert!(Text::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn digests_and_keys() {
        let hex = "d275f2d8c0a65de7c0558f215719c3f3bd311658f725b9e5341131eb8929a36f";
        assert_eq!(Sha256Digest::parse(hex).unwrap().to_string(), hex);
        assert!(Sha256Digest::parse(&hex.to_uppercase()).is_err());
        assert!(Sha256Digest::parse(&hex[1..]).is_err());
        let key = PublicKey::parse("R13qM3GYRNne6MIHQktgueOv9BeFoKKE0Equ+y+2atc=").unwrap();
        assert_eq!(
            key.keyid().to_string(),
            "b29ec60c00ab074ccca8252c4c81a5ed8defac8d68fb5fa9b4cdd5defa4b20a8"
        );
        for bad in [
            "R13qM3GYRNne6MIHQktgueOv9BeFoKKE0Equ+y+2atc", // unpadded
            "R13qM3GYRNne6MIHQktgueOv9BeFoKKE0Equ+y+2atd=", // non-canonical trailing bits
            "R13qM3GYRNne6MIHQktgueOv9BeFoKKE0Equ-y-2atc=", // URL alphabet
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", // the identity point: small order
            "AAAA",
        ] {
            assert!(PublicKey::parse(bad).is_err(), "{bad}");
        }
    }

    /// The table-driven `Sha256Digest::parse` accepts exactly 64 lowercase
    /// hex digits, to the same bytes as a per-digit definition: every byte
    /// value at every other position of a valid digest, and every length
    /// from 0 to 66.
    #[test]
    fn sha256_parse_matches_the_digit_definition() {
        fn reference(text: &str) -> Option<[u8; 32]> {
            let digit = |c: u8| match c {
                b'0'..=b'9' => Some(c - b'0'),
                b'a'..=b'f' => Some(c - b'a' + 10),
                _ => None,
            };
            let b = text.as_bytes();
            if b.len() != 64 {
                return None;
            }
            let mut out = [0u8; 32];
            for (i, p) in b.chunks_exact(2).enumerate() {
                out[i] = digit(p[0])? << 4 | digit(p[1])?;
            }
            Some(out)
        }
        let valid: String = "0123456789abcdef".repeat(4);
        let check = |t: &str| {
            let got = Sha256Digest::parse(t);
            assert_eq!(got.as_ref().ok().map(|d| d.0), reference(t), "{t:?}");
            if got.is_err() {
                assert_eq!(
                    got,
                    Err(format!(
                        "invalid sha256 {:?}: want 64 lowercase hex digits",
                        truncate(t)
                    ))
                );
            }
        };
        for pos in [0, 1, 31, 62, 63] {
            for c in 0..=255u8 {
                let mut b = valid.clone().into_bytes();
                b[pos] = c;
                if let Ok(t) = String::from_utf8(b) {
                    check(&t);
                }
            }
            // A two-byte character in place of two digits: still 64 bytes.
            let p = pos.min(62);
            check(&format!("{}\u{e9}{}", &valid[..p], &valid[p + 2..]));
        }
        for len in 0..=66 {
            check(&"a".repeat(len));
            check(&"A".repeat(len));
        }
    }

    #[test]
    fn strict_map_rejects_repeats() {
        let ok: StrictMap<String> = serde_json::from_str(r#"{"b":"1","a":"2"}"#).unwrap();
        assert_eq!(ok.0.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert!(serde_json::from_str::<StrictMap<String>>(r#"{"a":"1","a":"2"}"#).is_err());
    }
}
