//! Witness configuration: the TOML file, `--log ORIGIN=VKEY` flags and the
//! witness-network `logs/v0` log list (specs.md §6.2).
//!
//! Reading configuration never writes files; the key file is created by
//! `keygen` or, explicitly, by `serve` on first start (see `main.rs`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use claimlog::checkpoint::{Origin, parse_decimal};
use claimlog::note::{KeyType, VerifierKey};

/// The largest configuration or log-list file read, in bytes.
pub const MAX_CONFIG_SIZE: u64 = 4 << 20;

/// Errors from reading and validating configuration. All are fatal at
/// start-up (the CLI prints them); none reaches an HTTP client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A file could not be read.
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error, as text.
        reason: String,
    },
    /// The TOML file does not parse or has unknown fields.
    #[error("invalid TOML configuration: {0}")]
    Toml(String),
    /// A `--log` flag is not `ORIGIN=VKEY`.
    #[error("--log {0:?} is not ORIGIN=VKEY")]
    LogFlag(String),
    /// A log's vkey does not parse, or is not a log (checkpoint) key.
    #[error("log {origin:?}: invalid verifier key: {reason}")]
    LogKey {
        /// The origin (or the vkey text if no origin was given).
        origin: String,
        /// What is wrong.
        reason: String,
    },
    /// An origin that is not a valid checkpoint origin.
    #[error("invalid log origin {0:?}")]
    Origin(String),
    /// The same key configured twice for one origin.
    #[error("log {0:?}: the same key is configured twice")]
    DuplicateKey(String),
    /// A `logs/v0` list that breaks the format (line is 1-based).
    #[error("log list line {line}: {reason}")]
    LogList {
        /// The line number.
        line: usize,
        /// What is wrong.
        reason: &'static str,
    },
}

/// The TOML configuration file (`claimlog-witness serve --config FILE`).
/// Command-line flags override the scalar fields and add to the logs.
///
/// ```toml
/// # Where the witness keeps its state (sled) and, by default, its key.
/// data_dir = "/var/lib/claimlog-witness"
/// # The address to listen on.
/// listen = "127.0.0.1:7380"
/// # The witness's cosigner key file (Go skey format, type 0x04); created on
/// # first start if missing. Default: <data_dir>/witness.key.
/// key_file = "/etc/claimlog-witness/witness.key"
/// # The cosigner name used when the key is created on first start.
/// name = "witness.example.org/w1"
/// # Optional witness-network logs/v0 lists to trust as well.
/// log_lists = ["/etc/claimlog-witness/log-list.1"]
///
/// [[log]]
/// vkey = "example.com/log+2742cbff+AfgBC0EUa9jUugZ1p6sDBACFIt0FS+UQ0FazL1Lk+Vor"
/// # origin defaults to the vkey's name
/// origin = "example.com/log"
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The state directory.
    pub data_dir: Option<PathBuf>,
    /// The listen address.
    pub listen: Option<SocketAddr>,
    /// The cosigner key file.
    pub key_file: Option<PathBuf>,
    /// The cosigner name for a key created on first start.
    pub name: Option<String>,
    /// witness-network `logs/v0` files whose logs are trusted too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log_lists: Vec<PathBuf>,
    /// The trusted logs.
    #[serde(default, rename = "log", skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<LogEntry>,
}

/// One trusted log in the TOML file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogEntry {
    /// The checkpoint origin; defaults to the vkey's key name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The log's verifier key (type 0x01 Ed25519, or 0x06 ML-DSA-44).
    pub vkey: String,
}

impl ConfigFile {
    /// Parses the TOML text (unknown fields are errors).
    pub fn parse(text: &str) -> Result<ConfigFile, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Toml(e.to_string()))
    }

    /// Reads and parses a TOML file.
    pub fn load(path: &Path) -> Result<ConfigFile, ConfigError> {
        ConfigFile::parse(&read_capped(path)?)
    }

    /// Formats the configuration as TOML (used by `add-log`).
    pub fn to_toml(&self) -> String {
        // Serializing plain strings, paths and tables cannot fail.
        toml::to_string(self).unwrap_or_default()
    }
}

/// The trusted logs: origin to verifier keys. Built only from validated
/// entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogSet {
    logs: BTreeMap<Origin, Vec<VerifierKey>>,
}

impl LogSet {
    /// An empty set.
    pub fn new() -> LogSet {
        LogSet::default()
    }

    /// Adds a log key for `origin` (default: the key's name). Only
    /// checkpoint-signing key types are accepted: 0x01 (Ed25519) and 0x06
    /// (ML-DSA-44); a 0x04 key is a witness key, not a log key. Adding the
    /// identical key twice for an origin is an error.
    pub fn add(&mut self, origin: Option<&str>, vkey: &str) -> Result<(), ConfigError> {
        let key = VerifierKey::parse(vkey).map_err(|e| ConfigError::LogKey {
            origin: origin.unwrap_or(vkey).to_owned(),
            reason: e.to_string(),
        })?;
        if key.key_type() == KeyType::CosignatureV1 {
            return Err(ConfigError::LogKey {
                origin: origin.unwrap_or(vkey).to_owned(),
                reason: "type 0x04 is a cosigner key, not a log key".to_owned(),
            });
        }
        let origin = origin.unwrap_or(key.name().as_str());
        let origin = Origin::new(origin).map_err(|_| ConfigError::Origin(origin.to_owned()))?;
        let keys = self.logs.entry(origin.clone()).or_default();
        if keys.contains(&key) {
            return Err(ConfigError::DuplicateKey(origin.to_string()));
        }
        keys.push(key);
        Ok(())
    }

    /// Adds a `--log ORIGIN=VKEY` flag. The split is at the first `=`, so
    /// origins cannot contain `=` here (vkeys may, in their base64 padding).
    pub fn add_flag(&mut self, flag: &str) -> Result<(), ConfigError> {
        let Some((origin, vkey)) = flag.split_once('=') else {
            return Err(ConfigError::LogFlag(flag.to_owned()));
        };
        if origin.is_empty() || vkey.is_empty() {
            return Err(ConfigError::LogFlag(flag.to_owned()));
        }
        self.add(Some(origin), vkey)
    }

    /// Adds every entry of the TOML file.
    pub fn add_entries(&mut self, entries: &[LogEntry]) -> Result<(), ConfigError> {
        for e in entries {
            self.add(e.origin.as_deref(), &e.vkey)?;
        }
        Ok(())
    }

    /// Adds every log of a witness-network `logs/v0` list.
    pub fn add_log_list(&mut self, text: &str) -> Result<(), ConfigError> {
        for log in parse_log_list(text)? {
            self.add(Some(&log.origin), &log.vkey)?;
        }
        Ok(())
    }

    /// The keys for `origin`, if it is configured.
    pub fn keys(&self, origin: &Origin) -> Option<&[VerifierKey]> {
        self.logs.get(origin).map(Vec::as_slice)
    }

    /// Every configured (origin, keys), ordered by origin.
    pub fn iter(&self) -> impl Iterator<Item = (&Origin, &[VerifierKey])> {
        self.logs.iter().map(|(o, k)| (o, k.as_slice()))
    }

    /// The number of configured origins.
    pub fn len(&self) -> usize {
        self.logs.len()
    }

    /// Whether no log is configured.
    pub fn is_empty(&self) -> bool {
        self.logs.is_empty()
    }
}

/// One record of a `logs/v0` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedLog {
    /// The log's vkey.
    pub vkey: String,
    /// The origin (the vkey's name unless an `origin` line was given).
    pub origin: String,
    /// Allowed add-checkpoint requests per day.
    pub qpd: u64,
    /// Free-text contact.
    pub contact: String,
}

/// Parses a witness-network `logs/v0` list (specs.md §6.2): a `logs/v0`
/// header, then records of `vkey`, optional `origin`, `qpd` (1..2^31-1,
/// canonical decimal) and `contact`, in that order. Lines are trimmed;
/// blank and `#` lines are ignored. Only type 0x01 vkeys are accepted, as
/// the list format requires.
pub fn parse_log_list(text: &str) -> Result<Vec<ListedLog>, ConfigError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .peekable();
    let bad = |line, reason| ConfigError::LogList { line, reason };
    match lines.next() {
        Some((_, "logs/v0")) => {}
        Some((n, _)) => return Err(bad(n, "first line is not logs/v0")),
        None => return Err(bad(1, "empty list")),
    }
    let field = |line: &str, name: &str| -> Option<String> {
        let rest = line.strip_prefix(name)?.strip_prefix(' ')?;
        Some(rest.trim_start().to_owned())
    };
    let mut out = Vec::new();
    while let Some((n, line)) = lines.next() {
        let vkey = field(line, "vkey").ok_or(bad(n, "expected a vkey line"))?;
        let key = VerifierKey::parse(&vkey).map_err(|_| bad(n, "invalid vkey"))?;
        if key.key_type() != KeyType::Ed25519 {
            return Err(bad(n, "only type 0x01 log keys are allowed"));
        }
        let mut origin = key.name().as_str().to_owned();
        let (n, line) = lines.next().ok_or(bad(n, "record ends after vkey"))?;
        let (n, line) = match field(line, "origin") {
            Some(o) => {
                origin = o;
                lines.next().ok_or(bad(n, "record ends after origin"))?
            }
            None => (n, line),
        };
        let qpd = field(line, "qpd")
            .and_then(|q| parse_decimal(&q))
            .filter(|q| (1..=i32::MAX as u64).contains(q))
            .ok_or(bad(n, "expected qpd <1..2^31-1>"))?;
        let (n, line) = lines.next().ok_or(bad(n, "record ends after qpd"))?;
        let contact = field(line, "contact").ok_or(bad(n, "expected a contact line"))?;
        if Origin::new(&origin).is_err() {
            return Err(bad(n, "invalid origin"));
        }
        out.push(ListedLog {
            vkey,
            origin,
            qpd,
            contact,
        });
    }
    Ok(out)
}

/// Reads a UTF-8 file of at most [`MAX_CONFIG_SIZE`] bytes.
pub fn read_capped(path: &Path) -> Result<String, ConfigError> {
    let err = |reason: String| ConfigError::Read {
        path: path.to_owned(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
    if meta.len() > MAX_CONFIG_SIZE {
        return Err(err(format!("larger than {MAX_CONFIG_SIZE} bytes")));
    }
    let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    String::from_utf8(bytes).map_err(|_| err("not UTF-8".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../spec/vectors/witness/witness-network-testing-log-list.txt"
    ));
    const LOG_VKEY: &str =
        "research.example/log+2742cbff+AfgBC0EUa9jUugZ1p6sDBACFIt0FS+UQ0FazL1Lk+Vor";

    #[test]
    fn witness_network_testing_list() {
        let logs = parse_log_list(LIST).unwrap();
        assert_eq!(logs.len(), 9);
        assert_eq!(logs[0].origin, "arche2025h1.staging.ct.transparency.dev");
        assert_eq!(logs[0].qpd, 86400);
        assert_eq!(logs[0].contact, "google-ct-logs@googlegroups.com");
        assert_eq!(logs[6].origin, "vindex.gopherwatch.org");
        assert_eq!(logs[6].qpd, 288);
        assert!(logs[3].contact.contains("glasklarteknik.se | https://"));
        let mut set = LogSet::new();
        set.add_log_list(LIST).unwrap();
        assert_eq!(set.len(), 9);
        let origin = Origin::new("keyserver.geomys.org").unwrap();
        assert_eq!(
            set.keys(&origin).unwrap()[0].key_id().to_string(),
            "16b31509"
        );
        // Loading the same list twice is a duplicate key.
        assert!(matches!(
            set.add_log_list(LIST),
            Err(ConfigError::DuplicateKey(_))
        ));
    }

    #[test]
    fn log_list_rejects_malformed_records() {
        let v = "vkey keyserver.geomys.org+16b31509+ARLJ+pmTj78HzTeBj04V+LVfB+GFAQyrg54CRIju7Nn8";
        let ok = format!("logs/v0\n{v}\norigin other.example\nqpd 1\ncontact x\n");
        let logs = parse_log_list(&ok).unwrap();
        assert_eq!(logs[0].origin, "other.example");
        let cases = [
            ("", "empty list"),
            ("logs/v1\n", "first line is not logs/v0"),
            ("logs/v0\nqpd 1\n", "expected a vkey line"),
            (&format!("logs/v0\n{v}\n"), "record ends after vkey"),
            (
                &format!("logs/v0\n{v}\nqpd 01\ncontact x\n"),
                "expected qpd <1..2^31-1>",
            ),
            (
                &format!("logs/v0\n{v}\nqpd 0\ncontact x\n"),
                "expected qpd <1..2^31-1>",
            ),
            (
                &format!("logs/v0\n{v}\nqpd 2147483648\ncontact x\n"),
                "expected qpd <1..2^31-1>",
            ),
            (
                &format!("logs/v0\n{v}\ncontact x\nqpd 1\n"),
                "expected qpd <1..2^31-1>",
            ),
            (&format!("logs/v0\n{v}\nqpd 1\n"), "record ends after qpd"),
            (
                &format!("logs/v0\n{v}\nqpd 1\nvkey x\n"),
                "expected a contact line",
            ),
            ("logs/v0\nvkey nonsense\n", "invalid vkey"),
            (
                "logs/v0\nvkey research.example/witness-ed25519+1d551a50+BBbgeyTOL2VRTP9BF/Xnl4EWyEXOlBqatLRSMxxcIZSY\n",
                "only type 0x01 log keys are allowed",
            ),
        ];
        for (text, want) in cases {
            match parse_log_list(text) {
                Err(ConfigError::LogList { reason, .. }) => assert_eq!(reason, want, "{text:?}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn toml_file_and_flags() {
        let text = format!(
            "data_dir = \"/tmp/w\"\nlisten = \"127.0.0.1:7380\"\nname = \"w.example/1\"\n\n[[log]]\nvkey = \"{LOG_VKEY}\"\n"
        );
        let cfg = ConfigFile::parse(&text).unwrap();
        assert_eq!(cfg.logs.len(), 1);
        assert_eq!(ConfigFile::parse(&cfg.to_toml()).unwrap(), cfg);
        let mut set = LogSet::new();
        set.add_entries(&cfg.logs).unwrap();
        assert!(
            set.keys(&Origin::new("research.example/log").unwrap())
                .is_some()
        );
        // Unknown fields are errors.
        assert!(matches!(
            ConfigFile::parse("data_dri = \"x\"\n"),
            Err(ConfigError::Toml(_))
        ));
        assert!(matches!(
            ConfigFile::parse(&format!("[[log]]\nvkey = \"{LOG_VKEY}\"\nqpd = 3\n")),
            Err(ConfigError::Toml(_))
        ));
        // Flags: ORIGIN=VKEY, split at the first '='.
        let mut set = LogSet::new();
        set.add_flag(&format!("other.example/log={LOG_VKEY}"))
            .unwrap();
        assert!(
            set.keys(&Origin::new("other.example/log").unwrap())
                .is_some()
        );
        for bad in ["", "=", "x=", &format!("={LOG_VKEY}"), LOG_VKEY] {
            assert!(set.add_flag(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            set.add_flag(&format!("other.example/log={LOG_VKEY}")),
            Err(ConfigError::DuplicateKey("other.example/log".to_owned()))
        );
        // A witness (0x04) key is not a log key.
        assert!(matches!(
            set.add(None, "research.example/witness-ed25519+1d551a50+BBbgeyTOL2VRTP9BF/Xnl4EWyEXOlBqatLRSMxxcIZSY"),
            Err(ConfigError::LogKey { .. })
        ));
    }
}
