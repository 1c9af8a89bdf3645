//! Per-witness metrics, rendered into the log's `/metrics` (Prometheus text
//! format 0.0.4), labelled by the witness's policy name:
//! - `claimlog_witness_requests_total{witness,outcome,status}`: one per
//!   `add-checkpoint` request (a 409 and its retry are two), `outcome` one
//!   of `cosigned`, `conflict`, `rejected`, `timeout`, `transport_error`,
//!   `bad_cosignature`, `proof_error`; `status` the HTTP status, empty when
//!   there was none;
//! - `claimlog_witness_request_seconds_{sum,count}{witness}`: latency;
//! - `claimlog_witness_cosigned_size{witness}`: the size the witness last
//!   cosigned (as far as the log knows);
//! - `claimlog_witness_quorum_failures_total`: publications withheld
//!   because the quorum was not met.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use crate::policy::Name;

/// The witness metrics of one log (per instance, no global registry).
#[derive(Debug, Default)]
pub struct WitnessMetrics {
    inner: Mutex<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    /// (witness label, outcome, status) -> count.
    requests: BTreeMap<(String, &'static str, u16), u64>,
    /// witness label -> (microseconds, requests).
    latency: BTreeMap<String, (u64, u64)>,
    /// witness label -> size.
    cosigned_size: BTreeMap<String, u64>,
    quorum_failures: u64,
}

impl WitnessMetrics {
    /// Makes a witness appear in the output before its first request, with
    /// `size` as its last cosigned size.
    pub fn register(&self, witness: &Name, size: u64) {
        let mut c = self.lock();
        let label = label(witness);
        c.latency.entry(label.clone()).or_insert((0, 0));
        c.cosigned_size.insert(label, size);
    }

    /// Counts one request with its outcome label, HTTP status (0: none) and
    /// latency.
    pub fn request(&self, witness: &Name, outcome: &'static str, status: u16, took: Duration) {
        let mut c = self.lock();
        let label = label(witness);
        *c.requests
            .entry((label.clone(), outcome, status))
            .or_insert(0) += 1;
        let l = c.latency.entry(label).or_insert((0, 0));
        l.0 += u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        l.1 += 1;
    }

    /// Records the size a witness just cosigned.
    pub fn cosigned_size(&self, witness: &Name, size: u64) {
        self.lock().cosigned_size.insert(label(witness), size);
    }

    /// Counts a publication withheld for want of the quorum.
    pub fn quorum_failure(&self) {
        self.lock().quorum_failures += 1;
    }

    /// How many publications were withheld so far.
    pub fn quorum_failures(&self) -> u64 {
        self.lock().quorum_failures
    }

    /// Appends the Prometheus text to `out`; nothing when no witness is
    /// configured.
    pub fn render(&self, out: &mut String) {
        let c = self.lock();
        if c.latency.is_empty() {
            return;
        }
        let _ = writeln!(
            out,
            "# HELP claimlog_witness_requests_total add-checkpoint requests by witness, outcome and HTTP status.\n# TYPE claimlog_witness_requests_total counter"
        );
        for ((w, outcome, status), v) in &c.requests {
            let status = if *status == 0 {
                String::new()
            } else {
                status.to_string()
            };
            let _ = writeln!(
                out,
                "claimlog_witness_requests_total{{witness=\"{w}\",outcome=\"{outcome}\",status=\"{status}\"}} {v}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP claimlog_witness_request_seconds add-checkpoint request latency by witness.\n# TYPE claimlog_witness_request_seconds summary"
        );
        for (w, (micros, n)) in &c.latency {
            let _ = writeln!(
                out,
                "claimlog_witness_request_seconds_sum{{witness=\"{w}\"}} {}\nclaimlog_witness_request_seconds_count{{witness=\"{w}\"}} {n}",
                *micros as f64 / 1e6
            );
        }
        let _ = writeln!(
            out,
            "# HELP claimlog_witness_cosigned_size The tree size each witness last cosigned.\n# TYPE claimlog_witness_cosigned_size gauge"
        );
        for (w, size) in &c.cosigned_size {
            let _ = writeln!(
                out,
                "claimlog_witness_cosigned_size{{witness=\"{w}\"}} {size}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP claimlog_witness_quorum_failures_total Publications withheld because the witness quorum was not met.\n# TYPE claimlog_witness_quorum_failures_total counter\nclaimlog_witness_quorum_failures_total {}",
            c.quorum_failures
        );
    }

    fn lock(&self) -> MutexGuard<'_, Counters> {
        // Counters only; a poisoned lock still holds usable counts.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A label value: the name with non-ASCII octets as `\xNN` (its Display),
/// then Prometheus escaping of backslash and double quote.
fn label(name: &Name) -> String {
    name.to_string().replace('\\', "\\\\").replace('"', "\\\"")
}
