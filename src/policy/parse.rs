//! Parsing of policy files (tlog-policy §"Policy file syntax and
//! structure"): one line at a time into a [`Parser`], which enforces the
//! naming, key and threshold rules as each line arrives.

use std::collections::HashMap;

use super::{
    Entry, Group, Log, MAX_GROUPS, MAX_LOGS, MAX_WITNESSES, NONE, Name, Policy, PolicyError,
    Threshold, Url, Witness,
};
use crate::checkpoint::parse_decimal;
use crate::cosignature::CosignatureVerifier;
use crate::note::{NoteError, VerifierKey};

/// Accumulates the lines of a policy being parsed.
#[derive(Default)]
pub(super) struct Parser {
    logs: Vec<Log>,
    entries: Vec<Entry>,
    names: HashMap<Box<[u8]>, usize>,
    /// Raw public key bytes to the line that used them. Ed25519 keys of
    /// types 0x01 and 0x04 are the same 32 bytes, so they collide here as
    /// the spec wants; ML-DSA keys (1312 bytes) cannot collide with them.
    keys: HashMap<Vec<u8>, usize>,
    witnesses: usize,
    groups: usize,
    quorum: Option<(Option<usize>, usize)>,
}

impl Parser {
    pub(super) fn line(&mut self, line: &[u8], number: usize) -> Result<(), PolicyError> {
        let fields: Vec<&[u8]> = line
            .split(|&b| b == b' ' || b == b'\t')
            .filter(|f| !f.is_empty())
            .collect();
        let Some((&keyword, args)) = fields.split_first() else {
            return Ok(()); // blank line
        };
        if keyword.starts_with(b"#") {
            return Ok(()); // comment line
        }
        match keyword {
            b"log" => self.log(args, number),
            b"witness" => self.witness(args, number),
            b"group" => self.group(args, number),
            b"quorum" => self.quorum(args, number),
            _ => Err(PolicyError::UnknownKeyword { line: number }),
        }
    }

    fn log(&mut self, args: &[&[u8]], number: usize) -> Result<(), PolicyError> {
        let (vkey, url) = match args {
            [vkey] => (vkey, None),
            [vkey, url] => (vkey, Some(Url((*url).into()))),
            _ => {
                return Err(PolicyError::WrongFieldCount {
                    line: number,
                    keyword: "log",
                });
            }
        };
        if self.logs.len() == MAX_LOGS {
            return Err(PolicyError::TooManyLogs { max: MAX_LOGS });
        }
        let key = self.key(vkey, number)?;
        self.logs.push(Log { key, url });
        Ok(())
    }

    fn witness(&mut self, args: &[&[u8]], number: usize) -> Result<(), PolicyError> {
        let (name, vkey, url) = match args {
            [name, vkey] => (name, vkey, None),
            [name, vkey, url] => (name, vkey, Some(Url((*url).into()))),
            _ => {
                return Err(PolicyError::WrongFieldCount {
                    line: number,
                    keyword: "witness",
                });
            }
        };
        if self.witnesses == MAX_WITNESSES {
            return Err(PolicyError::TooManyWitnesses { max: MAX_WITNESSES });
        }
        let name = self.new_name(name, number)?;
        let key = self.key(vkey, number)?;
        let key_type = key.key_type();
        let key = CosignatureVerifier::new(key).map_err(|_| PolicyError::WrongKeyType {
            line: number,
            key_type,
        })?;
        self.witnesses += 1;
        self.define(Entry::Witness(Box::new(Witness { name, key, url })));
        Ok(())
    }

    fn group(&mut self, args: &[&[u8]], number: usize) -> Result<(), PolicyError> {
        let [name, threshold, members @ ..] = args else {
            return Err(PolicyError::WrongFieldCount {
                line: number,
                keyword: "group",
            });
        };
        if self.groups == MAX_GROUPS {
            return Err(PolicyError::TooManyGroups { max: MAX_GROUPS });
        }
        let name = self.new_name(name, number)?;
        if members.is_empty() {
            return Err(PolicyError::EmptyGroup { line: number });
        }
        let mut member_entries = Vec::with_capacity(members.len());
        for &member in members {
            let i = self.lookup(member, number)?;
            if member_entries.contains(&i) {
                return Err(PolicyError::DuplicateMember {
                    line: number,
                    name: Name(member.into()),
                });
            }
            member_entries.push(i);
        }
        let n = members.len();
        let threshold = match *threshold {
            b"all" => Threshold::All,
            b"any" => Threshold::Any,
            digits => {
                let k = std::str::from_utf8(digits)
                    .ok()
                    .and_then(parse_decimal)
                    .ok_or(PolicyError::InvalidThreshold { line: number })?;
                match usize::try_from(k) {
                    Ok(k) if (1..=n).contains(&k) => Threshold::AtLeast(k),
                    _ => {
                        return Err(PolicyError::ThresholdOutOfRange { line: number, k, n });
                    }
                }
            }
        };
        self.groups += 1;
        self.define(Entry::Group(Group {
            name,
            threshold,
            members: members.iter().map(|&m| Name(m.into())).collect(),
            member_entries,
        }));
        Ok(())
    }

    fn quorum(&mut self, args: &[&[u8]], number: usize) -> Result<(), PolicyError> {
        let [name] = args else {
            return Err(PolicyError::WrongFieldCount {
                line: number,
                keyword: "quorum",
            });
        };
        if self.quorum.is_some() {
            return Err(PolicyError::DuplicateQuorum { line: number });
        }
        let target = if *name == NONE {
            None
        } else {
            Some(self.lookup(name, number)?)
        };
        self.quorum = Some((target, number));
        Ok(())
    }

    pub(super) fn finish(self) -> Result<Policy, PolicyError> {
        let Some((quorum, _)) = self.quorum else {
            return Err(PolicyError::MissingQuorum);
        };
        Ok(Policy {
            logs: self.logs,
            entries: self.entries,
            quorum,
        })
    }

    /// Parses a vkey and rejects a public key already used on a log or
    /// witness line.
    fn key(&mut self, vkey: &[u8], number: usize) -> Result<VerifierKey, PolicyError> {
        let invalid = |error| PolicyError::InvalidKey {
            line: number,
            error,
        };
        let vkey =
            std::str::from_utf8(vkey).map_err(|_| invalid(NoteError::MalformedKey("not UTF-8")))?;
        let key = VerifierKey::parse(vkey).map_err(invalid)?;
        if let Some(&first) = self.keys.get(key.public_key()) {
            return Err(PolicyError::DuplicateKey {
                line: number,
                first,
            });
        }
        self.keys.insert(key.public_key().to_vec(), number);
        Ok(key)
    }

    /// Checks that a witness or group name is neither reserved nor taken.
    fn new_name(&self, name: &[u8], number: usize) -> Result<Name, PolicyError> {
        if name == NONE {
            return Err(PolicyError::ReservedName { line: number });
        }
        if self.names.contains_key(name) {
            return Err(PolicyError::DuplicateName {
                line: number,
                name: Name(name.into()),
            });
        }
        Ok(Name(name.into()))
    }

    /// The entry an already defined name refers to.
    fn lookup(&self, name: &[u8], number: usize) -> Result<usize, PolicyError> {
        if name == NONE {
            return Err(PolicyError::ReservedName { line: number });
        }
        self.names
            .get(name)
            .copied()
            .ok_or_else(|| PolicyError::UndefinedName {
                line: number,
                name: Name(name.into()),
            })
    }

    fn define(&mut self, entry: Entry) {
        self.names
            .insert(entry.name().as_bytes().into(), self.entries.len());
        self.entries.push(entry);
    }
}

/// Rejects the control characters the spec forbids: everything below 0x20
/// except TAB, and DEL (LF never reaches here, lines are split on it).
pub(super) fn check_octets(line: &[u8], number: usize) -> Result<(), PolicyError> {
    match line
        .iter()
        .find(|&&b| (b < 0x20 && b != b'\t') || b == 0x7f)
    {
        Some(&byte) => Err(PolicyError::ControlCharacter { line: number, byte }),
        None => Ok(()),
    }
}
