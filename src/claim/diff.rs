//! Diffs between two versions of a data-handling series (spec/claim.md §7, DESIGN §4).
//!
//! Every field has an order of strength; a change is `strengthened` or `weakened`
//! when the new value is stronger or weaker, `neutral` when strength is unaffected
//! (wording, labels) and `incomparable` when the values are not ordered (a different
//! data category, a set that gained and lost members). Withdrawing a claim (a field
//! present, then absent) is a weakening; making a new one is a strengthening.
//!
//! The diff is symmetric by construction: fields are visited in a fixed order and
//! claims by id, so `diff(b, a)` is exactly `diff(a, b).reversed()`.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde::Serialize;

use super::data_handling::{Claim, DataHandling, ServerProcessing};
use super::time::{IsoDuration, Timestamp};
use super::types::Term;
use super::vocab::{TermSet, Vocabulary};

/// How a change affects the strength of what is claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// The new value promises more.
    Strengthened,
    /// The new value promises less.
    Weakened,
    /// Different, but neither stronger nor weaker.
    Neutral,
    /// Different in a way that has no order; treated as a weakening by the notice rule.
    Incomparable,
}

impl Direction {
    /// The direction of the same change read backwards.
    pub fn reversed(self) -> Direction {
        match self {
            Direction::Strengthened => Direction::Weakened,
            Direction::Weakened => Direction::Strengthened,
            other => other,
        }
    }

    /// The lowercase name used in JSON and in rendered lines.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Strengthened => "strengthened",
            Direction::Weakened => "weakened",
            Direction::Neutral => "neutral",
            Direction::Incomparable => "incomparable",
        }
    }

    /// Whether the notice rule treats this change as a weakening.
    pub fn may_weaken(self) -> bool {
        matches!(self, Direction::Weakened | Direction::Incomparable)
    }

    /// From "how strong is new compared with old".
    fn from_strength(o: Option<Ordering>) -> Direction {
        match o {
            Some(Ordering::Greater) => Direction::Strengthened,
            Some(Ordering::Less) => Direction::Weakened,
            Some(Ordering::Equal) => Direction::Neutral,
            None => Direction::Incomparable,
        }
    }
}

/// One changed field. `old`/`new` are display forms; `None` means absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    /// The field's path within its claim (or the predicate, for top-level fields),
    /// e.g. `retention.server.max`.
    pub field: String,
    /// The old value, if present.
    pub old: Option<String>,
    /// The new value, if present.
    pub new: Option<String>,
    /// How the change affects strength.
    pub direction: Direction,
}

/// The changed fields of one claim present in both versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClaimChange {
    /// The claim id.
    pub id: String,
    /// Its changed fields, in the fixed field order of spec/claim.md §7.
    pub changes: Vec<FieldChange>,
}

/// The difference between two versions of a series.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Diff {
    /// Changed top-level fields (`changeNoticePeriod`, `statement[en]`, ...).
    pub changes: Vec<FieldChange>,
    /// Changed claims, by id.
    pub claims: Vec<ClaimChange>,
    /// Ids of claims only in the new version (strengthenings).
    pub added: Vec<String>,
    /// Ids of claims only in the old version (weakenings).
    pub removed: Vec<String>,
}

/// Every change from `old` to `new`. Version bookkeeping (`sequence`, `supersedes`,
/// `removedClaimIds`, `issuedAt`, `effectiveFrom`) is not compared: it always changes.
pub fn diff(old: &DataHandling, new: &DataHandling) -> Diff {
    let mut top = Fields::default();
    top.cmp(
        "issuer.domain",
        Some(&old.issuer.domain),
        Some(&new.issuer.domain),
        Kind::Incomparable,
    );
    top.cmp(
        "issuer.name",
        Some(&old.issuer.name),
        Some(&new.issuer.name),
        Kind::Neutral,
    );
    top.cmp(
        "service.id",
        Some(&old.service.id),
        Some(&new.service.id),
        Kind::Incomparable,
    );
    top.cmp(
        "service.name",
        Some(&old.service.name),
        Some(&new.service.name),
        Kind::Neutral,
    );
    let apps = |d: &DataHandling| {
        d.service.app_identifiers.as_ref().map(|a| {
            a.iter()
                .map(|a| format!("{} {}", a.store, a.id))
                .collect::<BTreeSet<_>>()
        })
    };
    // Equal lists are equal sets: skip formatting both (most versions keep
    // them; this runs in the log's sequencer for every version).
    if old.service.app_identifiers != new.service.app_identifiers {
        top.cmp_set(
            "service.appIdentifiers",
            apps(old),
            apps(new),
            Kind::Neutral,
        );
    }
    top.cmp(
        "changeNoticePeriod",
        old.change_notice_period.as_ref(),
        new.change_notice_period.as_ref(),
        Kind::Ordered(|a: &IsoDuration, b| Some(b.seconds().cmp(&a.seconds()))),
    );
    // Absence is "no end": the claims hold until a later version replaces them. So,
    // unlike other fields, setting or advancing validUntil weakens (the promises may
    // lapse sooner) and removing or postponing it strengthens.
    if old.valid_until != new.valid_until {
        let no_end = |t: Option<Timestamp>| t.map_or(i64::MAX, Timestamp::unix);
        top.0.push(FieldChange {
            field: "validUntil".to_owned(),
            old: old.valid_until.map(|t| t.to_string()),
            new: new.valid_until.map(|t| t.to_string()),
            direction: Direction::from_strength(Some(
                no_end(new.valid_until).cmp(&no_end(old.valid_until)),
            )),
        });
    }
    top.cmp(
        "contact",
        old.contact.as_ref(),
        new.contact.as_ref(),
        Kind::Neutral,
    );
    top.cmp(
        "authoritativeLanguage",
        Some(&old.authoritative_language),
        Some(&new.authoritative_language),
        Kind::Neutral,
    );
    let langs: BTreeSet<&str> = old
        .statement
        .iter()
        .chain(&new.statement)
        .map(|s| s.lang.as_str())
        .collect();
    for lang in langs {
        fn text<'a>(d: &'a DataHandling, lang: &str) -> Option<&'a str> {
            d.statement
                .iter()
                .find(|s| s.lang == *lang)
                .map(|s| s.text.as_str())
        }
        if text(old, lang) != text(new, lang) {
            top.cmp(
                &format!("statement[{lang}]"),
                text(old, lang),
                text(new, lang),
                Kind::Neutral,
            );
        }
    }

    let ids: BTreeSet<&str> = old
        .claims
        .iter()
        .chain(&new.claims)
        .map(|c| c.id.as_str())
        .collect();
    let mut out = Diff {
        changes: top.0,
        ..Diff::default()
    };
    for id in ids {
        match (old.claim(id), new.claim(id)) {
            // An unchanged claim has no changed field (`Fields::record`
            // skips equal values), so the field-by-field pass, which formats
            // sets, is only run on claims that changed.
            (Some(a), Some(b)) if a != b => {
                let changes = diff_claim(a, b);
                if !changes.is_empty() {
                    out.claims.push(ClaimChange {
                        id: id.to_owned(),
                        changes,
                    });
                }
            }
            (Some(_), Some(_)) => {}
            (Some(_), None) => out.removed.push(id.to_owned()),
            (None, Some(_)) => out.added.push(id.to_owned()),
            (None, None) => {}
        }
    }
    out
}

impl Diff {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
            && self.claims.is_empty()
            && self.added.is_empty()
            && self.removed.is_empty()
    }

    /// The same diff read from new to old.
    pub fn reversed(&self) -> Diff {
        let flip = |c: &FieldChange| FieldChange {
            field: c.field.clone(),
            old: c.new.clone(),
            new: c.old.clone(),
            direction: c.direction.reversed(),
        };
        Diff {
            changes: self.changes.iter().map(flip).collect(),
            claims: self
                .claims
                .iter()
                .map(|c| ClaimChange {
                    id: c.id.clone(),
                    changes: c.changes.iter().map(flip).collect(),
                })
                .collect(),
            added: self.removed.clone(),
            removed: self.added.clone(),
        }
    }

    /// The rendered line of the first change the notice rule counts as a weakening
    /// (weakened, incomparable, or a removed claim), in rendering order.
    pub fn first_weakening(&self) -> Option<String> {
        let top = self
            .changes
            .iter()
            .find(|c| c.direction.may_weaken())
            .map(|c| render_change(None, c));
        let claim = || {
            self.claims.iter().find_map(|cc| {
                cc.changes
                    .iter()
                    .find(|c| c.direction.may_weaken())
                    .map(|c| render_change(Some(&cc.id), c))
            })
        };
        let removed = || {
            self.removed
                .first()
                .map(|id| format!("{id}: claim removed (weakened)"))
        };
        top.or_else(claim).or_else(removed)
    }

    /// Whether any change counts as a weakening for the notice rule.
    pub fn weakens(&self) -> bool {
        self.first_weakening().is_some()
    }

    /// One line per change, e.g. `chat-content: retention.server.max PT72H -> P30D (weakened)`.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for c in &self.changes {
            let _ = writeln!(s, "{}", render_change(None, c));
        }
        for cc in &self.claims {
            for c in &cc.changes {
                let _ = writeln!(s, "{}", render_change(Some(&cc.id), c));
            }
        }
        for id in &self.added {
            let _ = writeln!(s, "{id}: claim added (strengthened)");
        }
        for id in &self.removed {
            let _ = writeln!(s, "{id}: claim removed (weakened)");
        }
        s
    }
}

fn render_change(claim: Option<&str>, c: &FieldChange) -> String {
    let show = |v: &Option<String>| match v {
        None => "absent".to_owned(),
        // Sets are bracketed and shown whole: every member matters.
        Some(v) if v.starts_with('[') => v.clone(),
        // Long text (statements, labels) is cut; the JSON form has it whole.
        Some(v) if v.chars().count() > 60 => {
            format!("{:?}", v.chars().take(57).collect::<String>() + "...")
        }
        Some(v) if v.contains(char::is_whitespace) || v.is_empty() => format!("{v:?}"),
        Some(v) => v.clone(),
    };
    let prefix = claim.map(|id| format!("{id}: ")).unwrap_or_default();
    format!(
        "{prefix}{} {} -> {} ({})",
        c.field,
        show(&c.old),
        show(&c.new),
        c.direction.as_str()
    )
}

/// The fields of one claim in the fixed order of spec/claim.md §7.
fn diff_claim(a: &Claim, b: &Claim) -> Vec<FieldChange> {
    let mut f = Fields::default();
    f.cmp(
        "dataCategory.term",
        Some(&a.data_category.term),
        Some(&b.data_category.term),
        Kind::Incomparable,
    );
    f.cmp(
        "dataCategory.label",
        a.data_category.label.as_ref(),
        b.data_category.label.as_ref(),
        Kind::Neutral,
    );
    let labels = |c: &Claim| {
        c.data_category.store_label_mappings.as_ref().map(|m| {
            m.0.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<BTreeSet<_>>()
        })
    };
    f.cmp_set(
        "dataCategory.storeLabelMappings",
        labels(a),
        labels(b),
        Kind::Neutral,
    );
    f.cmp(
        "scope",
        a.scope.as_ref(),
        b.scope.as_ref(),
        Kind::Ordered(|x, y| rank_cmp(TermSet::Scopes, x, y)),
    );
    f.cmp_terms(
        "legalBasis",
        a.legal_basis.as_ref(),
        b.legal_basis.as_ref(),
        Kind::Incomparable,
    );
    f.cmp(
        "serverProcessing",
        a.server_processing.as_ref(),
        b.server_processing.as_ref(),
        Kind::Ordered(|x: &ServerProcessing, y| Some(x.cmp(y))),
    );
    fn storage(c: &Claim) -> Option<&super::data_handling::Storage> {
        c.storage.as_ref()
    }
    f.cmp_terms(
        "storage.locations",
        storage(a).and_then(|s| s.locations.as_ref()),
        storage(b).and_then(|s| s.locations.as_ref()),
        Kind::Ordered(fewer_is_stronger),
    );
    f.cmp(
        "storage.serverBackups",
        storage(a).and_then(|s| s.server_backups.as_ref()),
        storage(b).and_then(|s| s.server_backups.as_ref()),
        Kind::Ordered(false_is_stronger),
    );
    fn server(c: &Claim) -> Option<&super::data_handling::ServerRetention> {
        c.retention.as_ref().and_then(|r| r.server.as_ref())
    }
    f.cmp(
        "retention.server.max",
        server(a).and_then(|s| s.max.as_ref()),
        server(b).and_then(|s| s.max.as_ref()),
        Kind::Ordered(|x: &IsoDuration, y| Some(x.seconds().cmp(&y.seconds()))),
    );
    f.cmp(
        "retention.server.until",
        server(a).and_then(|s| s.until.as_ref()),
        server(b).and_then(|s| s.until.as_ref()),
        Kind::Incomparable,
    );
    f.cmp(
        "retention.device",
        a.retention.as_ref().and_then(|r| r.device.as_ref()),
        b.retention.as_ref().and_then(|r| r.device.as_ref()),
        Kind::Neutral,
    );
    fn purposes(c: &Claim, excluded: bool) -> Option<&Vec<Term>> {
        c.purposes.as_ref().and_then(|p| {
            if excluded {
                p.excluded.as_ref()
            } else {
                p.permitted.as_ref()
            }
        })
    }
    f.cmp_terms(
        "purposes.permitted",
        purposes(a, false),
        purposes(b, false),
        Kind::Ordered(fewer_is_stronger),
    );
    f.cmp_terms(
        "purposes.excluded",
        purposes(a, true),
        purposes(b, true),
        Kind::Ordered(more_is_stronger),
    );
    f.cmp_terms(
        "processingExcluded",
        a.processing_excluded.as_ref(),
        b.processing_excluded.as_ref(),
        Kind::Ordered(more_is_stronger),
    );
    f.cmp_terms(
        "sharedWith",
        a.shared_with.as_ref(),
        b.shared_with.as_ref(),
        Kind::Ordered(fewer_is_stronger),
    );
    f.cmp(
        "usedForTraining",
        a.used_for_training.as_ref(),
        b.used_for_training.as_ref(),
        Kind::Ordered(false_is_stronger),
    );
    f.cmp(
        "endToEndEncrypted",
        a.end_to_end_encrypted.as_ref(),
        b.end_to_end_encrypted.as_ref(),
        Kind::Ordered(|x: &bool, y| Some(y.cmp(x))),
    );
    f.cmp_terms(
        "technicalMeasures",
        a.technical_measures.as_ref(),
        b.technical_measures.as_ref(),
        Kind::Ordered(more_is_stronger),
    );
    fn access(c: &Claim) -> Option<&super::data_handling::OperatorAccess> {
        c.operator_access.as_ref()
    }
    f.cmp(
        "operatorAccess.technicallyPossible",
        access(a).and_then(|o| o.technically_possible.as_ref()),
        access(b).and_then(|o| o.technically_possible.as_ref()),
        Kind::Ordered(false_is_stronger),
    );
    f.cmp(
        "operatorAccess.routine",
        access(a).and_then(|o| o.routine.as_ref()),
        access(b).and_then(|o| o.routine.as_ref()),
        Kind::Ordered(false_is_stronger),
    );
    f.cmp_terms(
        "operatorAccess.conditions",
        access(a).and_then(|o| o.conditions.as_ref()),
        access(b).and_then(|o| o.conditions.as_ref()),
        Kind::Ordered(fewer_is_stronger),
    );
    let exceptions = |c: &Claim| {
        c.exceptions.as_ref().map(|list| {
            list.iter()
                .map(|e| {
                    let mut s = e.kind.to_string();
                    if let Some(to) = &e.applies_to {
                        let _ = write!(s, " for {:?}", to.as_str());
                    }
                    if let Some(uri) = &e.disclosed_in {
                        let _ = write!(s, " disclosed in {uri}");
                    }
                    s
                })
                .collect::<BTreeSet<_>>()
        })
    };
    f.cmp_set(
        "exceptions",
        exceptions(a),
        exceptions(b),
        Kind::Ordered(fewer_is_stronger),
    );
    f.cmp(
        "assurance.level",
        a.assurance.as_ref().map(|x| &x.level),
        b.assurance.as_ref().map(|x| &x.level),
        Kind::Ordered(|x, y| rank_cmp(TermSet::AssuranceLevels, x, y)),
    );
    let evidence = |c: &Claim| {
        c.assurance
            .as_ref()
            .and_then(|x| x.evidence.as_ref())
            .map(|list| {
                list.iter()
                    .map(|e| match &e.sha256 {
                        Some(h) => format!("{} {} sha256:{h}", e.kind, e.uri),
                        None => format!("{} {}", e.kind, e.uri),
                    })
                    .collect::<BTreeSet<_>>()
            })
    };
    f.cmp_set(
        "assurance.evidence",
        evidence(a),
        evidence(b),
        Kind::Ordered(more_is_stronger),
    );
    f.0
}

/// How a field's values are ordered by strength.
enum Kind<T: ?Sized> {
    /// Any change is neutral, including appearing or disappearing.
    Neutral,
    /// Value changes are incomparable; appearing strengthens, disappearing weakens.
    Incomparable,
    /// `f(old, new)` says how strong `new` is compared with `old`.
    Ordered(fn(&T, &T) -> Option<Ordering>),
}

#[derive(Default)]
struct Fields(Vec<FieldChange>);

impl Fields {
    fn cmp<T: PartialEq + ToString + ?Sized>(
        &mut self,
        field: &str,
        old: Option<&T>,
        new: Option<&T>,
        kind: Kind<T>,
    ) {
        self.record(field, old, new, kind, |v| v.to_string());
    }

    /// Set comparison of term lists; the sets are built only when the lists differ.
    fn cmp_terms(
        &mut self,
        field: &str,
        old: Option<&Vec<Term>>,
        new: Option<&Vec<Term>>,
        kind: Kind<BTreeSet<String>>,
    ) {
        if old != new {
            self.cmp_set(field, terms(old), terms(new), kind);
        }
    }

    fn cmp_set(
        &mut self,
        field: &str,
        old: Option<BTreeSet<String>>,
        new: Option<BTreeSet<String>>,
        kind: Kind<BTreeSet<String>>,
    ) {
        let show = |s: &BTreeSet<String>| {
            format!("[{}]", s.iter().cloned().collect::<Vec<_>>().join(", "))
        };
        self.record(field, old.as_ref(), new.as_ref(), kind, show);
    }

    fn record<T: PartialEq + ?Sized>(
        &mut self,
        field: &str,
        old: Option<&T>,
        new: Option<&T>,
        kind: Kind<T>,
        show: impl Fn(&T) -> String,
    ) {
        let neutral = matches!(kind, Kind::Neutral);
        let direction = match (old, new) {
            (None, None) => return,
            (Some(a), Some(b)) if a == b => return,
            (Some(_), None) if neutral => Direction::Neutral,
            (None, Some(_)) if neutral => Direction::Neutral,
            (Some(_), None) => Direction::Weakened,
            (None, Some(_)) => Direction::Strengthened,
            (Some(a), Some(b)) => match kind {
                Kind::Neutral => Direction::Neutral,
                Kind::Incomparable => Direction::Incomparable,
                Kind::Ordered(f) => Direction::from_strength(f(a, b)),
            },
        };
        self.0.push(FieldChange {
            field: field.to_owned(),
            old: old.map(&show),
            new: new.map(&show),
            direction,
        });
    }
}

fn terms(list: Option<&Vec<Term>>) -> Option<BTreeSet<String>> {
    list.map(|l| l.iter().map(Term::to_string).collect())
}

/// A subset (fewer permitted purposes, recipients, locations...) is stronger.
fn fewer_is_stronger(old: &BTreeSet<String>, new: &BTreeSet<String>) -> Option<Ordering> {
    if new.is_subset(old) {
        Some(if new.len() < old.len() {
            Ordering::Greater
        } else {
            Ordering::Equal
        })
    } else if new.is_superset(old) {
        Some(Ordering::Less)
    } else {
        None
    }
}

/// A superset (more exclusions, measures, evidence) is stronger.
fn more_is_stronger(old: &BTreeSet<String>, new: &BTreeSet<String>) -> Option<Ordering> {
    fewer_is_stronger(old, new).map(Ordering::reverse)
}

fn false_is_stronger(old: &bool, new: &bool) -> Option<Ordering> {
    Some(old.cmp(new))
}

/// Compares registry positions: a later position in an ordered set is stronger.
/// Terms outside the set (not yet validated) are incomparable.
fn rank_cmp(set: TermSet, old: &Term, new: &Term) -> Option<Ordering> {
    let v = Vocabulary::v1();
    Some(v.rank(set, new.as_str())?.cmp(&v.rank(set, old.as_str())?))
}
