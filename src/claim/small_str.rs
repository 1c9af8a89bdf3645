//! The text inside the string newtypes of [`super::types`] (`Domain`,
//! `Identifier`, `Text`, ...): kept inline when short, in one heap block
//! otherwise.
//!
//! A statement holds about twenty such strings and most are short (ids,
//! domains, language tags, app ids, names). As owned `String`s each cost an
//! allocation when parsed and a free when the statement is dropped, and the
//! monitor compares a new version's strings with those of the previous one,
//! last touched a thousand entries earlier: inline, they sit in the
//! statement's own memory instead of a cache line each.
//!
//! Order, equality and hashing are those of the text (`str`'s), so the
//! newtypes derive the same behaviour as when they held a `String`.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

/// The longest text kept inline: the type is then 24 bytes, as a `String`
/// (so the statement types are no larger than with `String`s).
const INLINE: usize = 22;

/// Text, inline up to [`INLINE`] bytes.
#[derive(Clone)]
pub(crate) enum SmallStr {
    /// Short text: its first `len` bytes are UTF-8 (only ever copied from a
    /// `str`).
    Inline {
        /// Length in bytes.
        len: u8,
        /// The bytes, then zeros.
        buf: [u8; INLINE],
    },
    /// Longer text.
    Heap(Box<str>),
}

impl SmallStr {
    /// A copy of `s`.
    pub(crate) fn new(s: &str) -> Self {
        match u8::try_from(s.len()) {
            Ok(len) if s.len() <= INLINE => {
                let mut buf = [0u8; INLINE];
                buf[..s.len()].copy_from_slice(s.as_bytes());
                SmallStr::Inline { len, buf }
            }
            _ => SmallStr::Heap(s.into()),
        }
    }

    /// `s`, inline if short (its buffer is then freed), else its own
    /// buffer (shrunk to fit, which reallocates only if it had spare room).
    pub(crate) fn from_string(s: String) -> Self {
        if s.len() <= INLINE {
            SmallStr::new(&s)
        } else {
            SmallStr::Heap(s.into_boxed_str())
        }
    }

    /// The text's bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            SmallStr::Inline { len, buf } => &buf[..usize::from(*len)],
            SmallStr::Heap(s) => s.as_bytes(),
        }
    }

    /// The text.
    pub(crate) fn as_str(&self) -> &str {
        match self {
            // Inline bytes were copied from a `str` whole (see `new`), so
            // they are UTF-8 and the fallback is never taken; checking again
            // is the price of `forbid(unsafe_code)` (short text, one pass).
            SmallStr::Inline { .. } => std::str::from_utf8(self.as_bytes()).unwrap_or_default(),
            SmallStr::Heap(s) => s,
        }
    }

    /// The text as a `String` (no copy when it is on the heap).
    pub(crate) fn into_string(self) -> String {
        match self {
            SmallStr::Inline { .. } => self.as_str().to_owned(),
            SmallStr::Heap(s) => s.into_string(),
        }
    }
}

impl PartialEq for SmallStr {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for SmallStr {}

impl PartialOrd for SmallStr {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SmallStr {
    /// `str` order is the order of the UTF-8 bytes.
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl Hash for SmallStr {
    /// As `str` hashes (its bytes, then 0xFF).
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(self.as_bytes());
        state.write_u8(0xff);
    }
}

impl fmt::Debug for SmallStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::hash_map::DefaultHasher;

    use super::*;

    fn hash_of<T: Hash + ?Sized>(v: &T) -> u64 {
        let mut h = DefaultHasher::new();
        v.hash(&mut h);
        h.finish()
    }

    /// Text, order, equality, hash and `Debug` are the `String`'s, on both
    /// sides of the inline limit, for ASCII and multi-byte text, built from a
    /// `str` or a `String`.
    #[test]
    fn behaves_as_the_string() {
        let mut texts: Vec<String> = vec![String::new(), "\u{e9}".into(), "a\"\\\n".into()];
        for len in [1, 2, 20, 21, 22, 23, 24, 200] {
            texts.push("x".repeat(len));
            texts.push(format!("{}\u{e9}", "y".repeat(len)));
            texts.push(format!("{}\u{1f600}", "a".repeat(len.saturating_sub(2))));
        }
        for a in &texts {
            let s = SmallStr::new(a);
            let t = SmallStr::from_string(a.clone());
            assert_eq!(s.as_str(), a);
            assert_eq!(t.as_str(), a);
            assert_eq!(s.as_bytes(), a.as_bytes());
            assert_eq!(s.clone().into_string(), *a);
            assert_eq!(matches!(s, SmallStr::Inline { .. }), a.len() <= INLINE);
            assert_eq!(format!("{s:?}"), format!("{a:?}"));
            assert_eq!(hash_of(&s), hash_of(a.as_str()));
            for b in &texts {
                let o = SmallStr::new(b);
                assert_eq!(s.cmp(&o), a.cmp(b), "{a:?} {b:?}");
                assert_eq!(s == o, a == b);
                assert_eq!(t == o, a == b);
            }
        }
        assert_eq!(std::mem::size_of::<SmallStr>(), 24);
    }
}
