//! Every W3C DPV term of the registry is one that was verified in DPV 2.0 itself.
//!
//! `spec/vocabulary/dpv-2.0-terms.txt` records, per registry set, each `dpv:` / `pd:`
//! term with its IRI and the w3c/dpv file and commit where its class declaration was
//! read. These tests tie the two files together in both directions, so a term cannot
//! be added to (or renamed in) `v1.json` as "source": "dpv" without the evidence line,
//! and the evidence file cannot keep lines for terms the registry no longer has.

use std::collections::{BTreeMap, BTreeSet};

use super::super::*;

/// The evidence file, as committed next to the registry.
const DPV_TERMS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/spec/vocabulary/dpv-2.0-terms.txt"
));

/// The released DPV 2.0 namespaces of the two prefixes the registry may use for DPV
/// terms (as declared by 2.0/dpv/dpv.ttl and 2.0/pd/modules/*.{ttl,n3}).
const NAMESPACES: [(&str, &str, &str); 2] = [
    ("dpv", "dpv", "https://w3id.org/dpv#"),
    ("dpv-pd", "pd", "https://w3id.org/dpv/pd#"),
];

/// One evidence line: the IRI and the `path@commit` it was read from.
#[derive(Debug)]
struct Evidence {
    iri: String,
    source: String,
}

/// Parses the evidence file into `(set key, term) -> evidence`, or every problem found.
fn parse_evidence(text: &str) -> Result<BTreeMap<(String, String), Evidence>, Vec<String>> {
    let set_keys: BTreeSet<&str> = TermSet::ALL.iter().map(|s| s.key()).collect();
    let mut problems = Vec::new();
    let mut entries = BTreeMap::new();
    let mut section: Option<String> = None;
    for (n, line) in text.lines().enumerate() {
        let n = n + 1;
        if let Some(header) = line.strip_prefix("## ") {
            let key = header.split(':').next().unwrap_or_default();
            if set_keys.contains(key) {
                section = Some(key.to_owned());
            } else {
                problems.push(format!("line {n}: unknown set {key:?}"));
                section = None;
            }
            continue;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(' ').collect();
        let [term, iri, source] = fields[..] else {
            problems.push(format!("line {n}: want `term iri path@commit`"));
            continue;
        };
        let Some(set) = section.clone() else {
            problems.push(format!("line {n}: {term} outside a section"));
            continue;
        };
        let Some((prefix, local)) = term.split_once(':') else {
            problems.push(format!("line {n}: {term} has no prefix"));
            continue;
        };
        match NAMESPACES.iter().find(|(_, p, _)| *p == prefix) {
            Some((_, _, ns)) if iri == format!("{ns}{local}") => {}
            Some(_) => problems.push(format!("line {n}: {term} has IRI {iri}")),
            None => problems.push(format!("line {n}: {term} is not a dpv: or pd: term")),
        }
        // path@commit, the path inside w3c/dpv's DPV 2.0 tree, the commit in full.
        let source_ok = source.split_once('@').is_some_and(|(path, commit)| {
            path.starts_with("2.0/")
                && (path.ends_with(".ttl") || path.ends_with(".n3"))
                && commit.len() == 40
                && commit
                    .bytes()
                    .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        });
        if !source_ok {
            problems.push(format!("line {n}: {term} has source {source}"));
        }
        let evidence = Evidence {
            iri: iri.to_owned(),
            source: source.to_owned(),
        };
        if entries
            .insert((set.clone(), term.to_owned()), evidence)
            .is_some()
        {
            problems.push(format!("line {n}: {term} repeated in {set}"));
        }
    }
    if problems.is_empty() {
        Ok(entries)
    } else {
        Err(problems)
    }
}

/// Every problem between a registry and an evidence file: DPV-prefixed terms with
/// another source, DPV terms without evidence in their set, and stale evidence.
fn check(vocabulary: &Vocabulary, evidence_text: &str) -> Vec<String> {
    let evidence = match parse_evidence(evidence_text) {
        Ok(e) => e,
        Err(problems) => return problems,
    };
    let mut problems = Vec::new();
    let mut used = BTreeSet::new();
    for set in TermSet::ALL {
        for t in vocabulary.terms(set) {
            let prefix = t.term.split_once(':').map(|(p, _)| p);
            let expected = NAMESPACES.iter().find(|(s, _, _)| *s == t.source);
            match (expected, prefix) {
                (Some((_, want, _)), Some(p)) if p == *want => {}
                (Some((source, want, _)), _) => {
                    problems.push(format!(
                        "{}: {} has source {source} but not the prefix {want}:",
                        set.key(),
                        t.term
                    ));
                    continue;
                }
                (None, Some(p)) if NAMESPACES.iter().any(|(_, dpv, _)| *dpv == p) => {
                    problems.push(format!(
                        "{}: {} uses a DPV prefix with source {}",
                        set.key(),
                        t.term,
                        t.source
                    ));
                    continue;
                }
                (None, _) => continue,
            }
            let key = (set.key().to_owned(), t.term.clone());
            if evidence.contains_key(&key) {
                used.insert(key);
            } else {
                problems.push(format!(
                    "{}: {} is not in dpv-2.0-terms.txt",
                    set.key(),
                    t.term
                ));
            }
        }
    }
    for (set, term) in evidence.keys() {
        if !used.contains(&(set.clone(), term.clone())) {
            problems.push(format!("{set}: {term} is in dpv-2.0-terms.txt only"));
        }
    }
    problems
}

#[test]
fn every_dpv_term_of_the_registry_was_verified_in_dpv_2_0() {
    assert_eq!(check(Vocabulary::v1(), DPV_TERMS), Vec::<String>::new());
    // The evidence covers exactly the DPV-sourced terms, one line each.
    let evidence = parse_evidence(DPV_TERMS).unwrap();
    let dpv_terms: usize = TermSet::ALL
        .iter()
        .map(|&s| {
            Vocabulary::v1()
                .terms(s)
                .iter()
                .filter(|t| t.source != "claimlog")
                .count()
        })
        .sum();
    assert_eq!(evidence.len(), dpv_terms);
    // Spot checks of facts recorded from the files.
    let share = &evidence[&("processing".to_owned(), "dpv:Share".to_owned())];
    assert_eq!(share.iri, "https://w3id.org/dpv#Share");
    assert_eq!(
        share.source,
        "2.0/dpv/dpv.ttl@f95cb29f4fd4e1af97b01f862b76105288076ba0"
    );
    let tracking = &evidence[&("personalData".to_owned(), "pd:Tracking".to_owned())];
    assert_eq!(tracking.iri, "https://w3id.org/dpv/pd#Tracking");
    assert!(tracking.source.starts_with("2.0/pd/modules/core.ttl@"));
}

#[test]
fn terms_dpv_2_0_does_not_define_are_ours_or_absent() {
    let v = Vocabulary::v1();
    // Not DPV 2.0 classes: kept under claimlog names with definitions in spec/claim.md.
    for gone in [
        "dpv:Tracking",
        "dpv:Scrape",
        "dpv:TrustedExecutionEnvironments",
    ] {
        assert!(TermSet::ALL.iter().all(|&s| !v.contains(s, gone)), "{gone}");
    }
    for ours in ["claimlog:Tracking", "claimlog:Scrape", "ai:ModelTraining"] {
        let info = v
            .terms(TermSet::Processing)
            .iter()
            .find(|t| t.term == ours)
            .unwrap();
        assert_eq!(info.source, "claimlog", "{ours}");
    }
    assert!(v.contains(
        TermSet::TechnicalMeasures,
        "dpv:TrustedExecutionEnvironment"
    ));
}

#[test]
fn unverified_dpv_terms_are_caught() {
    let with = |from: &str, to: &str| {
        assert!(VOCABULARY_V1_JSON.contains(from), "{from}");
        Vocabulary::parse(&VOCABULARY_V1_JSON.replacen(from, to, 1)).unwrap()
    };
    // A DPV term added (here: renamed) in the registry without evidence.
    let renamed = with("\"dpv:Copy\"", "\"dpv:Clone\"");
    assert_eq!(
        check(&renamed, DPV_TERMS),
        [
            "processing: dpv:Clone is not in dpv-2.0-terms.txt",
            "processing: dpv:Copy is in dpv-2.0-terms.txt only",
        ]
    );
    // A DPV prefix smuggled in as one of ours.
    let smuggled = with("\"term\": \"claimlog:Scrape\"", "\"term\": \"dpv:Scrape\"");
    assert_eq!(
        check(&smuggled, DPV_TERMS),
        ["processing: dpv:Scrape uses a DPV prefix with source claimlog"]
    );
    // A personal-data category with the core prefix.
    let wrong_prefix = with("\"term\": \"pd:Name\"", "\"term\": \"dpv:Name\"");
    assert_eq!(
        check(&wrong_prefix, DPV_TERMS),
        [
            "personalData: dpv:Name has source dpv-pd but not the prefix pd:",
            "personalData: pd:Name is in dpv-2.0-terms.txt only",
        ]
    );
    // Evidence under the wrong set: a purpose recorded as a processing operation.
    let moved = DPV_TERMS.replacen(
        "dpv:Marketing https://w3id.org/dpv#Marketing 2.0/dpv/dpv.ttl@f95cb29f4fd4e1af97b01f862b76105288076ba0\n",
        "",
        1,
    ) + "\n## processing: moved\ndpv:Marketing https://w3id.org/dpv#Marketing 2.0/dpv/dpv.ttl@f95cb29f4fd4e1af97b01f862b76105288076ba0\n";
    assert_eq!(
        check(Vocabulary::v1(), &moved),
        [
            "purposes: dpv:Marketing is not in dpv-2.0-terms.txt",
            "processing: dpv:Marketing is in dpv-2.0-terms.txt only",
        ]
    );
}

#[test]
fn malformed_evidence_is_rejected() {
    let line = "dpv:Share https://w3id.org/dpv#Share 2.0/dpv/dpv.ttl@f95cb29f4fd4e1af97b01f862b76105288076ba0";
    let bad = |text: &str| parse_evidence(text).unwrap_err();
    assert_eq!(bad(line), ["line 1: dpv:Share outside a section"]);
    assert_eq!(
        bad(&format!("## nosuchset: x\n{line}")),
        [
            "line 1: unknown set \"nosuchset\"",
            "line 2: dpv:Share outside a section"
        ]
    );
    assert_eq!(
        bad(&format!(
            "## processing: x\n{}",
            line.replace("dpv#Share", "dpv/2.0#Share")
        )),
        ["line 2: dpv:Share has IRI https://w3id.org/dpv/2.0#Share"]
    );
    assert_eq!(
        bad(&format!(
            "## processing: x\n{}",
            line.replace("@f95c", "@F95c")
        )),
        ["line 2: dpv:Share has source 2.0/dpv/dpv.ttl@F95cb29f4fd4e1af97b01f862b76105288076ba0"]
    );
    assert_eq!(
        bad(&format!(
            "## processing: x\n{}",
            line.replace(".ttl@", ".html@")
        )),
        ["line 2: dpv:Share has source 2.0/dpv/dpv.html@f95cb29f4fd4e1af97b01f862b76105288076ba0"]
    );
    assert_eq!(
        bad(&format!("## processing: x\n{line}\n{line}")),
        ["line 3: dpv:Share repeated in processing"]
    );
    assert_eq!(
        bad(&format!("## processing: x\n{line} extra")),
        ["line 2: want `term iri path@commit`"]
    );
    assert_eq!(
        bad(
            "## processing: x\nai:ModelTraining https://example.org/ai#ModelTraining 2.0/x.ttl@f95cb29f4fd4e1af97b01f862b76105288076ba0"
        ),
        ["line 2: ai:ModelTraining is not a dpv: or pd: term"]
    );
}
