//! Prometheus metrics from a per-instance registry (no global recorder, so
//! several servers can run in one test process), rendered as Prometheus text
//! exposition format 0.0.4 at `/metrics`. HTTP requests are labelled by route
//! template, never by raw path.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The route template of tile requests (`GET /tile/...`), also the label
/// under which tiles answered from the cache before routing are counted.
pub const TILE_ROUTE: &str = "/tile/{*path}";

/// The server's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    entries: AtomicU64,
    batches: AtomicU64,
    batch_size_sum: AtomicU64,
    sequencing_micros: AtomicU64,
    publications: AtomicU64,
    publishing_micros: AtomicU64,
    submissions: Mutex<BTreeMap<&'static str, u64>>,
    errors: Mutex<BTreeMap<&'static str, u64>>,
    /// Route template -> status -> count; nested so that counting a
    /// request for a known route allocates nothing.
    requests: Mutex<BTreeMap<String, BTreeMap<u16, u64>>>,
    /// Tiles answered from the cache before routing (200s of
    /// [`TILE_ROUTE`]); an atomic, so the hottest path takes no lock.
    cached_tiles: AtomicU64,
    /// Per-witness metrics (empty without a witness policy).
    pub witnesses: std::sync::Arc<crate::server::witnessing::WitnessMetrics>,
}

/// Values read at render time.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gauges {
    /// Submissions waiting in the pool.
    pub pool_depth: usize,
    /// Bytes reserved against `pending_bytes` (bodies being read, envelopes
    /// in the pool, submitters waiting for an answer).
    pub pending_bytes: usize,
    /// Committed tree size.
    pub tree_size: u64,
    /// Published checkpoint size.
    pub published_size: u64,
}

impl Metrics {
    /// Records a sequencing step that appended `appended` entries.
    pub fn batch(&self, appended: usize, took: Duration) {
        self.entries.fetch_add(appended as u64, Ordering::Relaxed);
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.batch_size_sum
            .fetch_add(appended as u64, Ordering::Relaxed);
        self.sequencing_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    /// Records a publication.
    pub fn publication(&self, took: Duration) {
        self.publications.fetch_add(1, Ordering::Relaxed);
        self.publishing_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    /// Counts a submission outcome (`new`, `duplicate`, or a rejection reason).
    pub fn submission(&self, outcome: &'static str) {
        *lock(&self.submissions).entry(outcome).or_insert(0) += 1;
    }

    /// Counts an internal error by reason (`sequencing`, `publishing`, ...).
    pub fn error(&self, reason: &'static str) {
        *lock(&self.errors).entry(reason).or_insert(0) += 1;
    }

    /// Counts an HTTP request by route template and status.
    pub fn request(&self, route: &str, status: u16) {
        let mut requests = lock(&self.requests);
        if let Some(by_status) = requests.get_mut(route) {
            *by_status.entry(status).or_insert(0) += 1;
        } else {
            requests.insert(route.to_owned(), BTreeMap::from([(status, 1)]));
        }
    }

    /// Counts a tile answered from the cache before routing; rendered as a
    /// request of [`TILE_ROUTE`] with status 200.
    pub fn cached_tile(&self) {
        self.cached_tiles.fetch_add(1, Ordering::Relaxed);
    }

    /// Tiles answered from the cache before routing, so far (tests tell
    /// the two paths apart with it).
    #[cfg(test)]
    pub(crate) fn cached_tiles(&self) -> u64 {
        self.cached_tiles.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition.
    pub fn render(&self, g: Gauges) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        let gauge = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        counter(
            &mut out,
            "claimlog_entries_total",
            "Entries appended to the log.",
            load(&self.entries),
        );
        let _ = writeln!(
            out,
            "# HELP claimlog_batch_size Entries appended per sequencing step.\n# TYPE claimlog_batch_size summary\nclaimlog_batch_size_sum {}\nclaimlog_batch_size_count {}",
            load(&self.batch_size_sum),
            load(&self.batches)
        );
        let _ = writeln!(
            out,
            "# HELP claimlog_sequencing_seconds Time per sequencing step, including the flush.\n# TYPE claimlog_sequencing_seconds summary\nclaimlog_sequencing_seconds_sum {}\nclaimlog_sequencing_seconds_count {}",
            load(&self.sequencing_micros) as f64 / 1e6,
            load(&self.batches)
        );
        let _ = writeln!(
            out,
            "# HELP claimlog_publishing_seconds Time per checkpoint publication.\n# TYPE claimlog_publishing_seconds summary\nclaimlog_publishing_seconds_sum {}\nclaimlog_publishing_seconds_count {}",
            load(&self.publishing_micros) as f64 / 1e6,
            load(&self.publications)
        );
        gauge(
            &mut out,
            "claimlog_pool_depth",
            "Submissions waiting to be sequenced.",
            g.pool_depth as u64,
        );
        gauge(
            &mut out,
            "claimlog_pending_bytes",
            "Bytes reserved by submissions in flight (bounded by pending_bytes).",
            g.pending_bytes as u64,
        );
        gauge(
            &mut out,
            "claimlog_tree_size",
            "Committed tree size.",
            g.tree_size,
        );
        gauge(
            &mut out,
            "claimlog_published_size",
            "Size of the published checkpoint.",
            g.published_size,
        );
        let _ = writeln!(
            out,
            "# HELP claimlog_submissions_total Submissions by outcome.\n# TYPE claimlog_submissions_total counter"
        );
        for (outcome, v) in lock(&self.submissions).iter() {
            let _ = writeln!(
                out,
                "claimlog_submissions_total{{outcome=\"{outcome}\"}} {v}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP claimlog_errors_total Internal errors by reason.\n# TYPE claimlog_errors_total counter"
        );
        for (reason, v) in lock(&self.errors).iter() {
            let _ = writeln!(out, "claimlog_errors_total{{reason=\"{reason}\"}} {v}");
        }
        let _ = writeln!(
            out,
            "# HELP claimlog_http_requests_total HTTP requests by route template and status.\n# TYPE claimlog_http_requests_total counter"
        );
        let mut requests = lock(&self.requests).clone();
        let cached_tiles = load(&self.cached_tiles);
        if cached_tiles > 0 {
            *requests
                .entry(TILE_ROUTE.to_owned())
                .or_default()
                .entry(200)
                .or_insert(0) += cached_tiles;
        }
        for (route, status, v) in requests
            .iter()
            .flat_map(|(r, m)| m.iter().map(move |(s, v)| (r, s, v)))
        {
            let _ = writeln!(
                out,
                "claimlog_http_requests_total{{route=\"{}\",status=\"{status}\"}} {v}",
                route.replace('\\', "\\\\").replace('"', "\\\"")
            );
        }
        self.witnesses.render(&mut out);
        out
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Counters only; a poisoned lock still holds usable counts.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.batch(3, Duration::from_millis(5));
        m.batch(1, Duration::from_millis(1));
        m.publication(Duration::from_millis(2));
        m.submission("new");
        m.submission("new");
        m.submission("bad_signature");
        m.error("sequencing");
        m.request("/tile/{*path}", 200);
        m.request("/tile/{*path}", 404);
        m.cached_tile();
        m.cached_tile();
        m.request("/checkpoint", 200);
        let text = m.render(Gauges {
            pool_depth: 7,
            pending_bytes: 9000,
            tree_size: 4,
            published_size: 3,
        });
        for line in [
            "claimlog_entries_total 4",
            "claimlog_batch_size_sum 4",
            "claimlog_batch_size_count 2",
            "claimlog_sequencing_seconds_sum 0.006",
            "claimlog_publishing_seconds_count 1",
            "claimlog_pool_depth 7",
            "claimlog_pending_bytes 9000",
            "claimlog_tree_size 4",
            "claimlog_published_size 3",
            "claimlog_submissions_total{outcome=\"new\"} 2",
            "claimlog_submissions_total{outcome=\"bad_signature\"} 1",
            "claimlog_errors_total{reason=\"sequencing\"} 1",
            // One routed 200 plus two answered from the cache.
            "claimlog_http_requests_total{route=\"/tile/{*path}\",status=\"200\"} 3",
            "claimlog_http_requests_total{route=\"/tile/{*path}\",status=\"404\"} 1",
            "claimlog_http_requests_total{route=\"/checkpoint\",status=\"200\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}:\n{text}");
        }
    }
}
