//! Per-instance metrics in the Prometheus text format (no global
//! registry: several witnesses can run in one test process).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::store::EvidenceOutcome;

/// Counters of one witness instance.
#[derive(Default)]
pub struct Metrics {
    /// (route template, status) -> count.
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    /// (route template) -> (count, total microseconds).
    durations: Mutex<BTreeMap<&'static str, (u64, u64)>>,
    cosigned: AtomicU64,
    conflicts: AtomicU64,
    evidence_added: AtomicU64,
    evidence_duplicate: AtomicU64,
    evidence_dropped: AtomicU64,
}

impl Metrics {
    /// Zeroed counters.
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// Counts one answered request by route template (never the raw path)
    /// and status, with its duration.
    pub fn request(&self, route: &'static str, status: u16, micros: u64) {
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((route, status)).or_default() += 1;
        }
        if let Ok(mut m) = self.durations.lock() {
            let e = m.entry(route).or_default();
            e.0 += 1;
            e.1 += micros;
        }
    }

    /// Counts one committed cosignature.
    pub fn cosigned(&self) {
        self.cosigned.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one lost compare-and-swap.
    pub fn conflict(&self) {
        self.conflicts.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one evidence record by outcome.
    pub fn evidence(&self, outcome: EvidenceOutcome) {
        let counter = match outcome {
            EvidenceOutcome::Added => &self.evidence_added,
            EvidenceOutcome::Duplicate => &self.evidence_duplicate,
            EvidenceOutcome::Full => &self.evidence_dropped,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The number of committed cosignatures so far.
    pub fn cosigned_total(&self) -> u64 {
        self.cosigned.load(Ordering::Relaxed)
    }

    /// Renders the Prometheus text exposition format (version 0.0.4).
    pub fn render(&self, logs: usize) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "# HELP witness_http_requests_total HTTP requests by route and status.\n# TYPE witness_http_requests_total counter"
        );
        if let Ok(m) = self.requests.lock() {
            for ((route, status), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "witness_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP witness_http_request_duration_seconds Time spent answering requests.\n# TYPE witness_http_request_duration_seconds summary"
        );
        if let Ok(m) = self.durations.lock() {
            for (route, (count, micros)) in m.iter() {
                let _ = writeln!(
                    out,
                    "witness_http_request_duration_seconds_sum{{route=\"{route}\"}} {}.{:06}\nwitness_http_request_duration_seconds_count{{route=\"{route}\"}} {count}",
                    micros / 1_000_000,
                    micros % 1_000_000
                );
            }
        }
        let counters = [
            (
                "witness_cosignatures_total",
                "Checkpoints cosigned and committed.",
                self.cosigned.load(Ordering::Relaxed),
            ),
            (
                "witness_cas_conflicts_total",
                "Compare-and-swap commits lost to a concurrent request (re-checked).",
                self.conflicts.load(Ordering::Relaxed),
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP witness_evidence_total Evidence of log misbehaviour, by outcome.\n# TYPE witness_evidence_total counter"
        );
        for (outcome, counter) in [
            ("added", &self.evidence_added),
            ("duplicate", &self.evidence_duplicate),
            ("dropped", &self.evidence_dropped),
        ] {
            let _ = writeln!(
                out,
                "witness_evidence_total{{outcome=\"{outcome}\"}} {}",
                counter.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP witness_logs Configured logs.\n# TYPE witness_logs gauge\nwitness_logs {logs}"
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_by_route_template() {
        let m = Metrics::new();
        m.request("/add-checkpoint", 200, 1_500_000);
        m.request("/add-checkpoint", 200, 500_000);
        m.request("/add-checkpoint", 409, 10);
        m.cosigned();
        m.evidence(EvidenceOutcome::Added);
        let text = m.render(3);
        for line in [
            "witness_http_requests_total{route=\"/add-checkpoint\",status=\"200\"} 2",
            "witness_http_requests_total{route=\"/add-checkpoint\",status=\"409\"} 1",
            "witness_http_request_duration_seconds_sum{route=\"/add-checkpoint\"} 2.000010",
            "witness_http_request_duration_seconds_count{route=\"/add-checkpoint\"} 3",
            "witness_cosignatures_total 1",
            "witness_evidence_total{outcome=\"added\"} 1",
            "witness_logs 3",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }
}
