//! The server's configuration: a TOML file (unknown keys rejected) whose
//! every field has a default, overridden by command-line flags. Reading the
//! configuration never writes anything; the log key is created by
//! [`load_or_create_key`], called explicitly at start-up.
//!
//! The file format is documented field by field below and in
//! `spec/log-api.md` ("Configuration").

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::checkpoint::Origin;
use crate::note::{KeyName, KeyType, SignerKey, VerifierKey};

/// The default data directory.
pub const DEFAULT_DATA_DIR: &str = "./claimlog-data";
/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The default origin (and log key name).
pub const DEFAULT_ORIGIN: &str = "localhost/claimlog";
/// The largest configuration file read.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Server configuration (TOML; every key optional).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Directory for the database, its lock file and the default log key.
    /// Default `./claimlog-data`.
    pub data_dir: PathBuf,
    /// Address to listen on. Default `127.0.0.1:8080`.
    pub listen: String,
    /// The log's origin, the first line of its checkpoints; the log key's
    /// name must equal it. Default `localhost/claimlog`.
    pub origin: String,
    /// The log's signer key file (Go note signer-key format). Default
    /// `<data_dir>/log.key`, generated on first start if missing.
    pub key_file: Option<PathBuf>,
    /// Submitter allowlist: note verifier keys (`name+hex8+base64`, type
    /// 0x01). A submitted envelope must carry a valid signature by one of
    /// them, matched by DSSE keyid (hex SHA-256 of the raw public key).
    pub allow_submitters: Vec<String>,
    /// Accept envelopes without checking their signatures against the
    /// allowlist (their shape is still checked). Default false.
    pub open_submission: bool,
    /// Milliseconds between sequencing steps when nothing wakes the
    /// sequencer. A submission wakes it at once and steps then run back to
    /// back while submissions are pending (group commit: each batch holds what
    /// arrived during the previous step's flush). Default 200.
    pub batch_interval_ms: u64,
    /// Most entries per sequencing step; a full pool triggers a step at once.
    /// Default 4096.
    pub max_batch: usize,
    /// Most submissions waiting to be sequenced; beyond it submissions get
    /// 503 with Retry-After. Default 65536.
    pub pool_capacity: usize,
    /// Most bytes held at once by submissions in flight: each reserves its
    /// body size (announced, or 64 KiB if not announced) plus 4 KiB before
    /// its body is read, keeps the body's share until it is sequenced and
    /// the 4 KiB until it is answered; beyond it submissions get 503 with
    /// Retry-After. The memory bound of pending submissions
    /// (`spec/log-api.md` "Memory"). At least 69,632 (one largest envelope).
    /// Default 16777216 (16 MiB).
    pub pending_bytes: usize,
    /// sled's page cache limit in bytes (sled counts records' serialized
    /// size; the heap it takes is larger, `spec/log-api.md` "Memory").
    /// Default 16777216 (16 MiB): 64 MiB took 75 MiB more RSS for no
    /// measurable gain in CPU per entry (BENCHMARKS.md "Memory bound").
    pub sled_cache_bytes: usize,
    /// Least milliseconds between two checkpoint publications (attempts,
    /// so also between two add-checkpoint requests to each witness). A
    /// sequencing step that commits entries triggers a publication at once
    /// if the last one is at least this old, otherwise when it is; so a
    /// receipt waits at most this long plus one publication. Default 500.
    pub checkpoint_interval_ms: u64,
    /// Seconds after which an unchanged checkpoint is re-signed and
    /// re-published. Default 300.
    pub heartbeat_interval_secs: u64,
    /// Seconds a submission waits for its receipt (publication) before the
    /// server answers 202 with the index only. Default 30.
    pub receipt_timeout_secs: u64,
    /// Most HTTP connections served at once; further ones wait in the
    /// kernel's accept queue until one closes. Bounds the server's memory
    /// under connection surges (each open connection with a request in
    /// flight costs roughly 40 KiB, `spec/log-api.md` "Memory"). Default
    /// 1536, so that at 10^6 entries the worst case of that model stays
    /// within 256 MiB.
    pub max_connections: usize,
    /// Milliseconds a client has to send a request: a connection with no
    /// request in flight for this long is closed, and so is an HTTP/1.1
    /// connection whose request head has not fully arrived this long after
    /// the connection opened or its previous response was written (so idle
    /// and slow clients cannot keep one of the `max_connections` slots); a
    /// submission whose body has not fully arrived this long after its head
    /// is answered 408. Default 30000.
    pub client_timeout_ms: u64,
    /// What the log admits: `"allowlist"` (default: any in-toto envelope
    /// signed by an `allow_submitters` key, or anything with
    /// `open_submission`) or `"domain"` (only claimlog statements signed by
    /// keys their domain bound, continuing their series; spec/claim.md §5-6).
    pub admission: AdmissionMode,
    /// Domain mode: the largest distance in seconds, either way, between a
    /// statement's `issuedAt` and the log's integration time. Default 600.
    pub claim_max_skew_secs: u64,
    /// Domain mode: where to fetch a domain's well-known document instead of
    /// `https://<domain>/.well-known/claimlog.json`, as domain -> base URL
    /// (`http://` allowed), e.g. `{ "chat.example" = "http://127.0.0.1:8081" }`
    /// fetches `http://127.0.0.1:8081/.well-known/claimlog.json`. For local
    /// setups and tests. Default empty.
    pub well_known_base_urls: BTreeMap<String, String>,
    /// Domain mode: milliseconds allowed for fetching a well-known document
    /// (connect and total). Default 5000.
    pub well_known_timeout_ms: u64,
    /// A C2SP tlog-policy file naming the witnesses that must cosign a
    /// checkpoint before it is published (every witness line needs its
    /// submission URL; see `spec/witnessing.md`). Default none: the
    /// log-signed checkpoint is published as is.
    pub witness_policy: Option<PathBuf>,
    /// Milliseconds allowed for one witness's whole `add-checkpoint`
    /// exchange (including the retry after a 409). Default 5000.
    pub witness_timeout_ms: u64,
}

/// What the log admits (`admission` in the configuration).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdmissionMode {
    /// Envelopes signed by an allowlisted submitter key.
    #[default]
    Allowlist,
    /// claimlog statements under the domain rules.
    Domain,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            listen: DEFAULT_LISTEN.to_owned(),
            origin: DEFAULT_ORIGIN.to_owned(),
            key_file: None,
            allow_submitters: Vec::new(),
            open_submission: false,
            batch_interval_ms: 200,
            max_batch: 4096,
            pool_capacity: 65536,
            pending_bytes: crate::server::sequencer::DEFAULT_PENDING_BYTES,
            sled_cache_bytes: crate::server::store::DEFAULT_SLED_CACHE_BYTES,
            checkpoint_interval_ms: 500,
            heartbeat_interval_secs: 300,
            receipt_timeout_secs: 30,
            max_connections: 1536,
            client_timeout_ms: 30_000,
            admission: AdmissionMode::Allowlist,
            claim_max_skew_secs: 600,
            well_known_base_urls: BTreeMap::new(),
            well_known_timeout_ms: 5000,
            witness_policy: None,
            witness_timeout_ms: 5000,
        }
    }
}

/// A configuration problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The file is not valid TOML for [`Config`].
    #[error("parsing {path}: {reason}")]
    Parse {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A value is out of range or malformed.
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// Reads and parses a TOML file (at most 1 MiB).
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let read_err = |reason: String| ConfigError::Read {
            path: path.display().to_string(),
            reason,
        };
        let meta = std::fs::metadata(path).map_err(|e| read_err(e.to_string()))?;
        if meta.len() > MAX_CONFIG_BYTES {
            return Err(read_err("file larger than 1 MiB".into()));
        }
        let text = std::fs::read_to_string(path).map_err(|e| read_err(e.to_string()))?;
        Config::from_toml(&text).map_err(|reason| ConfigError::Parse {
            path: path.display().to_string(),
            reason,
        })
    }

    /// Parses TOML text.
    pub fn from_toml(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim().replace('\n', " "))
    }

    /// The log key file: `key_file` or `<data_dir>/log.key`.
    pub fn key_path(&self) -> PathBuf {
        self.key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("log.key"))
    }

    /// Checks every value and parses the origin and the allowlist.
    pub fn validate(&self) -> Result<(Origin, Vec<VerifierKey>), ConfigError> {
        let invalid = |m: String| ConfigError::Invalid(m);
        let origin = Origin::new(&self.origin).map_err(|e| invalid(format!("origin: {e}")))?;
        KeyName::new(&self.origin)
            .map_err(|e| invalid(format!("origin must also be a valid key name: {e}")))?;
        let mut keys = Vec::with_capacity(self.allow_submitters.len());
        for v in &self.allow_submitters {
            let key = VerifierKey::parse(v)
                .map_err(|e| invalid(format!("allow_submitters: {v:?}: {e}")))?;
            if key.key_type() != KeyType::Ed25519 {
                return Err(invalid(format!(
                    "allow_submitters: {v:?} is not an Ed25519 (type 0x01) key"
                )));
            }
            keys.push(key);
        }
        for (name, value) in [
            ("batch_interval_ms", self.batch_interval_ms),
            ("max_batch", self.max_batch as u64),
            ("pool_capacity", self.pool_capacity as u64),
            ("checkpoint_interval_ms", self.checkpoint_interval_ms),
            ("heartbeat_interval_secs", self.heartbeat_interval_secs),
            ("receipt_timeout_secs", self.receipt_timeout_secs),
            ("max_connections", self.max_connections as u64),
            ("client_timeout_ms", self.client_timeout_ms),
            ("sled_cache_bytes", self.sled_cache_bytes as u64),
            ("well_known_timeout_ms", self.well_known_timeout_ms),
            ("witness_timeout_ms", self.witness_timeout_ms),
        ] {
            if value == 0 {
                return Err(invalid(format!("{name} must be positive")));
            }
        }
        let least_pending =
            crate::server::sequencer::SUBMISSION_OVERHEAD_BYTES + crate::dsse::MAX_ENVELOPE_BYTES;
        if self.pending_bytes < least_pending {
            return Err(invalid(format!(
                "pending_bytes must be at least {least_pending} (one largest envelope)"
            )));
        }
        if self.max_batch > self.pool_capacity {
            return Err(invalid("max_batch must not exceed pool_capacity".into()));
        }
        Ok((origin, keys))
    }
}

/// Loads the log key from `config.key_path()`. If it is missing and is the
/// default path, generates one named after the origin and writes it with
/// mode 0600; returns whether it was created. The key's name must equal the
/// origin (c2sp.org/tlog-checkpoint: the log key name SHOULD be the origin).
pub fn load_or_create_key(config: &Config) -> Result<(SignerKey, bool), ConfigError> {
    let path = config.key_path();
    let invalid = |m: String| ConfigError::Invalid(m);
    let created = if path.exists() || config.key_file.is_some() {
        false
    } else {
        let name = KeyName::new(&config.origin)
            .map_err(|e| invalid(format!("origin is not a valid key name: {e}")))?;
        let key = SignerKey::generate(name, KeyType::Ed25519, &mut rand_core::OsRng)
            .map_err(|e| invalid(format!("generating the log key: {e}")))?;
        std::fs::create_dir_all(&config.data_dir).map_err(|e| ConfigError::Read {
            path: config.data_dir.display().to_string(),
            reason: e.to_string(),
        })?;
        write_secret_file(&path, &key.to_skey_string())?;
        true
    };
    let key = read_signer_key(&path)?;
    if key.name().as_str() != config.origin {
        return Err(invalid(format!(
            "log key {} is named {:?} but the origin is {:?}",
            path.display(),
            key.name().as_str(),
            config.origin
        )));
    }
    if key.key_type() != KeyType::Ed25519 {
        return Err(invalid(format!(
            "log key {} is not an Ed25519 (type 0x01) key",
            path.display()
        )));
    }
    Ok((key, created))
}

/// Reads a signer key file (one line, Go note signer-key format).
pub fn read_signer_key(path: &Path) -> Result<SignerKey, ConfigError> {
    let read_err = |reason: String| ConfigError::Read {
        path: path.display().to_string(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| read_err(e.to_string()))?;
    if meta.len() > 4096 {
        return Err(read_err("key file larger than 4 KiB".into()));
    }
    let text = std::fs::read_to_string(path).map_err(|e| read_err(e.to_string()))?;
    let line = text.strip_suffix('\n').unwrap_or(&text);
    SignerKey::parse(line).map_err(|e| read_err(format!("not a signer key: {e}")))
}

/// Creates `path` with mode 0600 (failing if it exists) and writes `secret`
/// and a newline to it, flushed to disk.
pub fn write_secret_file(path: &Path, secret: &str) -> Result<(), ConfigError> {
    let write_err = |e: std::io::Error| ConfigError::Read {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(write_err)?;
    file.write_all(secret.as_bytes()).map_err(write_err)?;
    file.write_all(b"\n").map_err(write_err)?;
    file.sync_all().map_err(write_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_parsing() {
        let c = Config::from_toml("").unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.key_path(), PathBuf::from("./claimlog-data/log.key"));
        c.validate().unwrap();
        let c = Config::from_toml(
            "data_dir = \"/tmp/x\"\nmax_batch = 10\npool_capacity = 20\nopen_submission = true\n",
        )
        .unwrap();
        assert_eq!(c.max_batch, 10);
        assert!(c.open_submission);
        assert_eq!(c.key_path(), PathBuf::from("/tmp/x/log.key"));
        let c = Config::from_toml("witness_policy = \"/etc/w.policy\"\nwitness_timeout_ms = 250\n")
            .unwrap();
        assert_eq!(c.witness_policy, Some(PathBuf::from("/etc/w.policy")));
        assert_eq!(c.witness_timeout_ms, 250);
        // The least pending budget holds one largest envelope.
        let c = Config::from_toml("pending_bytes = 69632\nsled_cache_bytes = 1048576").unwrap();
        assert_eq!((c.pending_bytes, c.sled_cache_bytes), (69_632, 1 << 20));
        c.validate().unwrap();
        assert!(Config::from_toml("unknown = 1").is_err());
        assert!(Config::from_toml("max_batch = -1").is_err());
        assert!(Config::from_toml("max_batch = \"1\"").is_err());
        assert!(Config::from_toml("[server]\nlisten = \"x\"").is_err());
    }

    #[test]
    fn validation() {
        let bad = [
            "origin = \"\"",
            "origin = \"has space\"",
            "max_batch = 0",
            "max_batch = 100\npool_capacity = 10",
            "batch_interval_ms = 0",
            "allow_submitters = [\"nonsense\"]",
            "witness_timeout_ms = 0",
            "pending_bytes = 0",
            "pending_bytes = 69631",
            "sled_cache_bytes = 0",
        ];
        for b in bad {
            let c = Config::from_toml(b).unwrap();
            assert!(c.validate().is_err(), "{b}");
        }
        let key =
            SignerKey::from_seed(KeyName::new("v").unwrap(), KeyType::Ed25519, [1; 32]).unwrap();
        let cosigner =
            crate::cosignature::CosignerKey::from_seed(KeyName::new("w").unwrap(), [2; 32])
                .unwrap();
        let c = Config {
            allow_submitters: vec![key.verifier().to_string()],
            ..Config::default()
        };
        assert_eq!(c.validate().unwrap().1, vec![key.verifier()]);
        let c = Config {
            allow_submitters: vec![cosigner.verifier().key().to_string()],
            ..Config::default()
        };
        assert!(c.validate().is_err());
    }

    #[test]
    fn key_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let c = Config {
            data_dir: dir.path().join("data"),
            ..Config::default()
        };
        let (k1, created) = load_or_create_key(&c).unwrap();
        assert!(created);
        assert_eq!(k1.name().as_str(), DEFAULT_ORIGIN);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(c.key_path())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (k2, created) = load_or_create_key(&c).unwrap();
        assert!(!created);
        assert_eq!(k1, k2);
        // A different origin does not match the key.
        let other = Config {
            origin: "other.example/log".into(),
            ..c.clone()
        };
        assert!(load_or_create_key(&other).is_err());
        // An explicit key file is never created.
        let explicit = Config {
            key_file: Some(dir.path().join("missing.key")),
            ..c
        };
        assert!(load_or_create_key(&explicit).is_err());
        assert!(!dir.path().join("missing.key").exists());
    }
}
