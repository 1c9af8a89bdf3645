//! The monitor's catch-up rate: entries per second fully verified by
//! `MonitorState::advance` (entry framing, DSSE signature with the key bound
//! at that index, strict statement parsing and validation, series and notice
//! rules, diffs, Merkle root of the step checked against the log's).
//!
//! Builds an in-memory log of 10^5 entries (1,000 vendors, each an
//! enrollment then 99 versions of one data-handling series, round robin),
//! then times the catch-up in steps of 4,096 entries, as `claimlog monitor`
//! does after fetching the bundles. Network time is not included.
//!
//! Besides wall time, it prints the process's CPU time per entry over the
//! timed section (user + system, all threads): wall time depends on what else
//! the machine runs, CPU time much less, so figures taken while other work
//! runs can still be compared (record the load average with them).
//!
//! `cargo bench --bench monitor_catchup [-- VENDORS VERSIONS THREADS]`. With
//! `MONITOR_BENCH_BUILD_ONLY` set it stops once the log is built, so that
//! counts over the whole process (allocations under valgrind) can be taken
//! with and without the catch-up and subtracted.

use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use claimlog::claim::{SeriesPolicy, Timestamp};
use claimlog::dsse::{Envelope, PAYLOAD_TYPE_IN_TOTO};
use claimlog::entry::LogEntry;
use claimlog::merkle::{Frontier, Hash, leaf_hash};
use claimlog::monitor::{CheckpointRef, EventKind, MonitorState};

// The same allocator as the `claimlog` binary (src/main.rs), so that this
// measures what `claimlog monitor` runs.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const STEP: usize = 4096;
const T0: i64 = 1_780_000_000;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let vendors = args.first().copied().unwrap_or(1000);
    let versions = args.get(1).copied().unwrap_or(99);
    let threads = args.get(2).copied().unwrap_or(2);

    let started = Instant::now();
    let entries = build_log(vendors, versions);
    eprintln!(
        "built {} entries ({:.0} bytes on average) in {:.1} s",
        entries.len(),
        entries.iter().map(Vec::len).sum::<usize>() as f64 / entries.len() as f64,
        started.elapsed().as_secs_f64()
    );
    let mut roots = Vec::new();
    let mut frontier = Frontier::new();
    for (i, e) in entries.iter().enumerate() {
        frontier.append(leaf_hash(e)).unwrap();
        if (i + 1) % STEP == 0 || i + 1 == entries.len() {
            roots.push(frontier.root());
        }
    }
    let anchor = CheckpointRef {
        origin: "bench.example/log".into(),
        size: entries.len() as u64,
        root_hash: frontier.root().to_base64(),
    };

    // For counting what the catch-up alone costs (allocations under
    // valgrind, say): the same process without it, to subtract.
    if std::env::var_os("MONITOR_BENCH_BUILD_ONLY").is_some() {
        println!("built {} entries; catch-up skipped", entries.len());
        return;
    }
    let cpu_before = process_cpu_seconds();
    let started = Instant::now();
    let mut state = MonitorState::new(SeriesPolicy::default());
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for (chunk, root) in entries.chunks(STEP).zip(&roots) {
        let (next, events) = state
            .advance(state.size(), chunk, root as &Hash, &anchor, threads)
            .unwrap();
        for e in &events {
            if let EventKind::SeriesViolation { reason, .. } = &e.kind {
                panic!("violation in the benchmark log: {reason}");
            }
            // What `claimlog monitor` does with each event: render its JSON
            // line (`MonitorEvent::to_json_line`), whose first member is the
            // event's name (the enum's tag).
            let line = e.to_json_line();
            let name = line
                .strip_prefix("{\"event\":\"")
                .and_then(|rest| rest.split('"').next())
                .expect("an event line starts with its name");
            *counts.entry(name.to_owned()).or_default() += 1;
        }
        state = next;
    }
    let secs = started.elapsed().as_secs_f64();
    let cpu = process_cpu_seconds() - cpu_before;
    println!(
        "monitor catch-up: {} entries in {secs:.2} s = {:.0} entries/s fully verified ({threads} threads); \
         CPU {cpu:.2} s = {:.1} us/entry ({:.2} cores busy); events {counts:?}",
        entries.len(),
        entries.len() as f64 / secs,
        cpu * 1e6 / entries.len() as f64,
        cpu / secs,
    );
}

/// User + system CPU time of this process so far, all threads (including the
/// exited workers), from `/proc/self/stat` fields 14 and 15 (proc(5)), in
/// clock ticks of 1/100 s: the Linux user-space ABI fixes USER_HZ at 100 on
/// the platforms we run on. Unlike wall time, it does not grow when other
/// processes share the cores, so figures taken on a loaded machine compare.
fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat (Linux only)");
    // The command name (field 2) is in parentheses and may hold spaces: count
    // fields after its closing parenthesis, where field 3 is the first.
    let after = &stat[stat.rfind(')').expect("stat has a command name") + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields[i - 3]
            .parse::<u64>()
            .expect("utime/stime are integers")
    };
    (ticks(14) + ticks(15)) as f64 / 100.0
}

fn key(label: &str) -> SigningKey {
    SigningKey::from_bytes(&Sha256::digest(label.as_bytes()).into())
}

fn bound(k: &SigningKey) -> Value {
    let pk = k.verifying_key().to_bytes();
    json!({
        "keyid": hex::encode(Sha256::digest(pk)),
        "publicKey": STANDARD.encode(pk),
        "validFrom": ts(T0 - 86400),
    })
}

fn ts(unix: i64) -> String {
    Timestamp::from_unix(unix).unwrap().to_string()
}

fn example(name: &str) -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/spec/examples/");
    serde_json::from_slice(&std::fs::read(format!("{path}{name}")).unwrap()).unwrap()
}

/// Enrollments first, then the versions round robin; integration times
/// advance by one second per 100 entries.
fn build_log(vendors: usize, versions: usize) -> Vec<Vec<u8>> {
    let kb = example("key-binding-1-enroll.json");
    let dh = example("data-handling-1.json");
    let mut out = Vec::new();
    let time = |i: usize| T0 + (i / 100) as i64;
    let signing: Vec<SigningKey> = (0..vendors).map(|v| key(&format!("signing {v}"))).collect();
    for (v, signing_key) in signing.iter().enumerate() {
        let root = key(&format!("root {v}"));
        let mut s = kb.clone();
        let p = &mut s["predicate"];
        p["domain"] = json!(format!("v{v}.example"));
        p["issuedAt"] = json!(ts(time(out.len())));
        p["rootKeys"] = json!([bound(&root)]);
        p["signingKeys"] = json!([bound(signing_key)]);
        s["subject"][0]["name"] = json!(format!("v{v}.example"));
        s["subject"][0]["uri"] = json!(format!("https://v{v}.example/.well-known/claimlog.json"));
        s["subject"][0]["digest"]["sha256"] = bound(&root)["keyid"].clone();
        out.push(entry(&s, &root, time(out.len())));
    }
    let mut heads: Vec<Option<(usize, String)>> = vec![None; vendors];
    for n in 1..=versions {
        for (v, signing_key) in signing.iter().enumerate() {
            let at = time(out.len());
            let mut s = dh.clone();
            let p = &mut s["predicate"];
            p["issuer"]["domain"] = json!(format!("v{v}.example"));
            p["sequence"] = json!(n);
            p["issuedAt"] = json!(ts(at));
            p["effectiveFrom"] = json!(ts(at));
            p["removedClaimIds"] = json!([]);
            if let Some((index, sha)) = &heads[v] {
                p["supersedes"] =
                    json!({"sequence": n - 1, "logIndex": index, "statementSha256": sha});
            }
            let payload = serde_json::to_vec(&s).unwrap();
            heads[v] = Some((out.len(), hex::encode(Sha256::digest(&payload))));
            let env = Envelope::sign(PAYLOAD_TYPE_IN_TOTO, &payload, signing_key);
            out.push(LogEntry::encode(&env.to_canonical_json(), at as u64).unwrap());
        }
    }
    out
}

fn entry(statement: &Value, key: &SigningKey, at: i64) -> Vec<u8> {
    let payload = serde_json::to_vec(statement).unwrap();
    let env = Envelope::sign(PAYLOAD_TYPE_IN_TOTO, &payload, key);
    LogEntry::encode(&env.to_canonical_json(), at as u64).unwrap()
}
