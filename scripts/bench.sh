#!/usr/bin/env bash
# The benchmark figures of BENCHMARKS.md ("Quiet machine" sections) in one
# run: generic submit throughput (twice), tile reads (twice), submit-to-receipt
# with the proof inline at half the 15,000/s target, claims mode, and the
# monitor's catch-up. Run it on an
# otherwise idle machine from the repository root after
#   cargo build --release -p claimlog --bin claimlog -p claimlog-tests --bin claimlog-load
#   cargo bench --no-default-features --bench monitor_catchup --no-run
# Uses ports 19080, 19090, 19091 and a scratch directory (BENCH_DIR, default
# /tmp/claimlog-bench) that it deletes at the end; RATES overrides the receipt
# runs' offered rates (default 7500). A receipt waits for the next checkpoint
# (up to ~0.7 s) on its connection, so 7,500/s keeps up to ~5,000 of them
# open: the generic server allows 4,608 connections and 64 MiB of pending
# submissions (4 KiB per waiting receipt) instead of the defaults (1,536 and
# 16 MiB).
set -u
# 4,096 client connections plus the server's side of them.
ulimit -n 16384 2>/dev/null || echo "warning: cannot raise the open-file limit to 16384 ($(ulimit -n))"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
L=target/release/claimlog-load; C=target/release/claimlog
D=${BENCH_DIR:-/tmp/claimlog-bench}; rm -rf "$D"; mkdir -p "$D"
wait_up() { for i in $(seq 1 100); do curl -sf http://$1/healthz >/dev/null && return 0; sleep 0.1; done; return 1; }
printf 'data_dir = "%s/gen/data"\nlisten = "127.0.0.1:19080"\nmax_connections = 4608\npending_bytes = 67108864\n' $D > $D/gen.toml
$L allowlist --keys 1000 >> $D/gen.toml
RUST_LOG=warn $C serve --config $D/gen.toml > $D/gen.log 2>&1 & PID=$!
wait_up 127.0.0.1:19080
echo "== generic 60,000 @1024 sequenced ($(date -u +%H:%M:%S), $(cut -d' ' -f1-3 /proc/loadavg))"
$L submit --url http://127.0.0.1:19080 --entries 60000 --concurrency 1024 --wait sequenced --server-pid $PID --data-dir $D/gen/data --run q1
echo "== generic again 60,000 @1024 sequenced ($(date -u +%H:%M:%S), $(cut -d' ' -f1-3 /proc/loadavg))"
$L submit --url http://127.0.0.1:19080 --entries 60000 --concurrency 1024 --wait sequenced --server-pid $PID --data-dir $D/gen/data --run q2
echo "== tiles 150,000 @64 ($(date -u +%H:%M:%S), $(cut -d' ' -f1-3 /proc/loadavg))"
$L tiles --url http://127.0.0.1:19080 --requests 150000 --concurrency 64 --server-pid $PID
echo "== tiles again ($(date -u +%H:%M:%S), $(cut -d' ' -f1-3 /proc/loadavg))"
$L tiles --url http://127.0.0.1:19080 --requests 150000 --concurrency 64 --server-pid $PID
for R in ${RATES:-7500}; do
echo "== receipts 60,000 @4096 rate $R published ($(date -u +%H:%M:%S), $(cut -d' ' -f1-3 /proc/loadavg))"
$L submit --url http://127.0.0.1:19080 --entries 60000 --concurrency 4096 --rate $R --wait published --server-pid $PID --data-dir $D/gen/data --run r$R
done
kill $PID; wait $PID
printf 'data_dir = "%s/claims/data"\nlisten = "127.0.0.1:19090"\n' $D > $D/claims.toml
$L claims-config --vendors 200 --run c1 --well-known 127.0.0.1:19091 >> $D/claims.toml
RUST_LOG=warn $C serve --config $D/claims.toml > $D/claims.log 2>&1 & CPID=$!
wait_up 127.0.0.1:19090
echo "== claims 30,000 @1024 ($(date -u +%H:%M:%S), $(cut -d' ' -f1-3 /proc/loadavg))"
$L claims --url http://127.0.0.1:19090 --entries 30000 --concurrency 1024 --vendors 200 --services 10 --run c1 --well-known 127.0.0.1:19091 --server-pid $CPID --data-dir $D/claims/data
kill $CPID; wait $CPID
echo "== monitor catch-up ($(date -u +%H:%M:%S), $(cut -d' ' -f1-3 /proc/loadavg))"
B=$(ls -t target/release/deps/monitor_catchup-* | grep -v '\.d$' | head -1)
$B 1000 99 2
rm -rf $D
