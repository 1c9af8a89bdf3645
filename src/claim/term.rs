//! [`Term`]: a vocabulary term, syntactically checked, and shared with the v1
//! registry when the registry has it.
//!
//! Almost every term in a statement is registered (an unregistered one fails
//! validation), and a monitor or the log's sequencer reads, compares and drops
//! tens of them per entry. So a registered term is not copied into a `String`
//! of its own: it points at the registry's one copy of its text (interned),
//! which makes parsing it allocation-free and comparing two of them a pointer
//! comparison. Any other well-formed term keeps its own text.
//!
//! The invariant that makes the pointer comparison exact: every constructor
//! goes through [`Term::from_text`], which interns whenever the registry has
//! the text, and the registry holds each text once. So two terms have the same
//! text exactly when both are interned at the same entry or both hold
//! (equal) text of their own.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::OnceLock;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::types::deserialize_parsed;
use super::vocab::{TermHasher, TermSet, Vocabulary};

/// A vocabulary term, syntactically: `prefix:LocalName` (`dpv:Analyse`,
/// `pd:Communication`) or a lowercase keyword (`user-device`, `googlePlay` for
/// label schemes). Whether the term is registered is checked by validation, so
/// `claim lint` can report every unknown term at once.
#[derive(Clone)]
pub struct Term(Repr);

#[derive(Clone)]
enum Repr {
    /// A text of the v1 registry: its interned entry.
    Registered(&'static Interned),
    /// Any other well-formed text.
    Other(Box<str>),
}

/// One distinct term text of the v1 registry, and the sets that hold it.
#[derive(Debug)]
struct Interned {
    text: &'static str,
    /// Bit `TermSet as usize` is set for each set the text is registered in.
    sets: u32,
}

/// Every distinct, well-formed term text of the v1 registry, once.
struct Interner {
    entries: Vec<Interned>,
    /// Text to index in `entries`.
    index: HashMap<&'static str, usize, BuildHasherDefault<TermHasher>>,
}

impl Interner {
    fn get() -> &'static Interner {
        static INTERNER: OnceLock<Interner> = OnceLock::new();
        INTERNER.get_or_init(|| {
            let vocab = Vocabulary::v1();
            let mut interner = Interner {
                entries: Vec::new(),
                index: HashMap::default(),
            };
            for set in TermSet::ALL {
                for info in vocab.terms(set) {
                    let text = info.term.as_str();
                    // Only texts a `Term` may hold (some label-scheme names
                    // are not); checked with the syntax rule itself, not
                    // `Term::parse`, which would wait on this initialisation.
                    if check(text).is_err() {
                        continue;
                    }
                    let i = *interner.index.entry(text).or_insert_with(|| {
                        interner.entries.push(Interned { text, sets: 0 });
                        interner.entries.len() - 1
                    });
                    interner.entries[i].sets |= 1 << set as u32;
                }
            }
            interner
        })
    }

    /// The interned entry of `text`, if the registry has it.
    fn lookup(&'static self, text: &str) -> Option<&'static Interned> {
        self.index.get(text).map(|&i| &self.entries[i])
    }
}

/// The syntax of a term (see [`Term`]).
fn check(s: &str) -> Result<(), String> {
    let keyword = |w: &str| {
        w.as_bytes()
            .split(|&c| c == b'-')
            .all(|p| !p.is_empty() && p.iter().all(|c| c.is_ascii_alphanumeric()))
            && w.as_bytes()[0].is_ascii_lowercase()
    };
    // A byte search, not `split_once`: terms are short, and the generic
    // pattern searcher costs more than the whole check.
    let ok = (1..=100).contains(&s.len())
        && match s
            .bytes()
            .position(|c| c == b':')
            .map(|i| (&s[..i], &s[i + 1..]))
        {
            Some((prefix, local)) => {
                !prefix.is_empty()
                    && prefix.bytes().all(|c| c.is_ascii_lowercase() || c == b'-')
                    && !local.is_empty()
                    && local.bytes().all(|c| c.is_ascii_alphanumeric())
            }
            None => keyword(s),
        };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid term {s:?}: want prefix:LocalName or a lowercase keyword"
        ))
    }
}

impl Term {
    /// Parses and checks `text`.
    pub fn parse(text: &str) -> Result<Self, String> {
        Term::from_text(text, Box::from)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Registered(e) => e.text,
            Repr::Other(t) => t,
        }
    }

    /// Whether the term is registered in `set` of `vocab`: for the v1
    /// registry and an interned term, a bit test instead of a lookup.
    pub(crate) fn is_in(&self, vocab: &Vocabulary, set: TermSet) -> bool {
        match &self.0 {
            Repr::Registered(e) if std::ptr::eq(vocab, Vocabulary::v1()) => {
                e.sets & (1 << set as u32) != 0
            }
            _ => vocab.contains(set, self.as_str()),
        }
    }

    /// The term for `text`: interned if registered (a registered text is
    /// well formed: the interner checked it), else checked and made owned by
    /// `own`.
    fn from_text<S: AsRef<str>>(text: S, own: impl FnOnce(S) -> Box<str>) -> Result<Term, String> {
        if let Some(e) = Interner::get().lookup(text.as_ref()) {
            return Ok(Term(Repr::Registered(e)));
        }
        check(text.as_ref())?;
        Ok(Term(Repr::Other(own(text))))
    }
}

impl PartialEq for Term {
    fn eq(&self, other: &Term) -> bool {
        match (&self.0, &other.0) {
            // One entry per registered text (see the module doc).
            (Repr::Registered(a), Repr::Registered(b)) => std::ptr::eq(*a, *b),
            (Repr::Other(a), Repr::Other(b)) => a == b,
            // A registered text is always interned, so an owned text differs
            // from every interned one.
            _ => false,
        }
    }
}

impl Eq for Term {}

impl Ord for Term {
    fn cmp(&self, other: &Term) -> Ordering {
        match (&self.0, &other.0) {
            (Repr::Registered(a), Repr::Registered(b)) if std::ptr::eq(*a, *b) => Ordering::Equal,
            _ => self.as_str().cmp(other.as_str()),
        }
    }
}

impl PartialOrd for Term {
    fn partial_cmp(&self, other: &Term) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Hash for Term {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // As the text hashes, so that equal terms hash equally whatever their
        // form (and as the `String` it used to be).
        self.as_str().hash(state);
    }
}

impl fmt::Debug for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // As the derived `Debug` of the `String` newtype it replaces.
        f.debug_tuple("Term").field(&self.as_str()).finish()
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<str> for Term {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl TryFrom<String> for Term {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Term::from_text(s, String::into_boxed_str)
    }
}

impl From<Term> for String {
    fn from(t: Term) -> String {
        match t.0 {
            Repr::Registered(e) => e.text.to_owned(),
            Repr::Other(t) => t.into(),
        }
    }
}

impl Serialize for Term {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Term {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Read in place: a registered term is never copied.
        deserialize_parsed(d, Term::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registered(t: &Term) -> bool {
        matches!(t.0, Repr::Registered(_))
    }

    #[test]
    fn registered_terms_are_interned_once_and_compare_as_text() {
        let v = Vocabulary::v1();
        let mut all: Vec<&str> = TermSet::ALL
            .iter()
            .flat_map(|s| v.terms(*s))
            .map(|t| t.term.as_str())
            .collect();
        all.sort_unstable();
        all.dedup();
        let terms: Vec<Term> = all.iter().filter_map(|t| Term::parse(t).ok()).collect();
        assert!(terms.len() > 100, "{}", terms.len());
        for (t, text) in terms.iter().zip(all.iter().filter(|t| check(t).is_ok())) {
            assert!(registered(t), "{text}");
            assert_eq!(t.as_str(), *text);
            // Every constructor interns, so every form of a text is equal.
            let via_string = Term::try_from(text.to_string()).unwrap();
            assert!(registered(&via_string));
            assert_eq!(&via_string, t);
            let via_json: Term = serde_json::from_str(&format!("{text:?}")).unwrap();
            assert_eq!(&via_json, t);
            assert_eq!(serde_json::to_string(t).unwrap(), format!("{text:?}"));
            assert_eq!(String::from(t.clone()), *text);
            for set in TermSet::ALL {
                assert_eq!(t.is_in(v, set), v.contains(set, text), "{text} {set:?}");
            }
        }
        // Equality, order and hashing agree with the text's, pairwise.
        let hash = |t: &Term| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            t.hash(&mut h);
            h.finish()
        };
        let unregistered = ["dpv:NotInTheRegistry", "zz:Other", "some-keyword"].map(|t| {
            let t = Term::parse(t).unwrap();
            assert!(!registered(&t));
            t
        });
        let sample: Vec<&Term> = terms.iter().step_by(7).chain(&unregistered).collect();
        for a in &sample {
            for b in &sample {
                assert_eq!(*a == *b, a.as_str() == b.as_str(), "{a} {b}");
                assert_eq!(a.cmp(b), a.as_str().cmp(b.as_str()), "{a} {b}");
                if a == b {
                    assert_eq!(hash(a), hash(b));
                }
            }
        }
        let again = Term::try_from("dpv:NotInTheRegistry".to_owned()).unwrap();
        assert_eq!(again, unregistered[0]);
        assert_ne!(unregistered[0], unregistered[1]);
    }

    #[test]
    fn registered_texts_that_are_not_terms_stay_refused() {
        // Interning never admits a text the syntax rule refuses, even one the
        // registry lists (label-scheme names need not be terms).
        let v = Vocabulary::v1();
        for set in TermSet::ALL {
            for info in v.terms(set) {
                assert_eq!(
                    Term::parse(&info.term).is_ok(),
                    check(&info.term).is_ok(),
                    "{}",
                    info.term
                );
            }
        }
        for bad in ["", "dpv:", "DPV:Analyse", "dpv:Ana lyse", "x:y:z"] {
            assert_eq!(Term::parse(bad).unwrap_err(), check(bad).unwrap_err());
            assert!(Term::try_from(bad.to_owned()).is_err());
        }
        assert_eq!(
            serde_json::from_str::<Term>("\"dpv:\"")
                .unwrap_err()
                .to_string(),
            "invalid term \"dpv:\": want prefix:LocalName or a lowercase keyword"
        );
    }

    #[test]
    fn debug_reads_as_before() {
        let t = Term::parse("dpv:Analyse").unwrap();
        assert_eq!(format!("{t:?}"), "Term(\"dpv:Analyse\")");
        assert_eq!(
            format!("{:?}", Term::parse("zz:Other").unwrap()),
            "Term(\"zz:Other\")"
        );
    }
}
