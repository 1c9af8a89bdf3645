#!/usr/bin/env bash
# The benchmark figures of BENCHMARKS.md ("Quiet machine" sections) in one
# run: generic submit throughput (twice), tile reads (twice), submit-to-receipt
# at 1,500 connections, claims mode, and the monitor's catch-up. Run it on an
# otherwise idle machine from the repository root after
#   cargo build --release -p claimlog --bin claimlog -p claimlog-tests --bin claimlog-load
#   cargo bench --no-default-features --bench monitor_catchup --no-run
# Uses ports 19080, 19090, 19091 and a scratch directory (BENCH_DIR, default
# /tmp/claimlog-bench) that it deletes at the end; RATES overrides the receipt
# runs' offered rates (default "4000 7500").
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/.."
L=target/release/claimlog-load; C=target/release/claimlog
D=${BENCH_DIR:-/tmp/claimlog-bench}; rm -rf "$D"; mkdir -p "$D"
wait_up() { for i in $(seq 1 100); do curl -sf http://$1/healthz >/dev/null && return 0; sleep 0.1; done; return 1; }
printf 'data_dir = "%s/gen/data"\nlisten = "127.0.0.1:19080"\n' $D > $D/gen.toml
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
for R in ${RATES:-4000 7500}; do
echo "== receipts 30,000 @1500 rate $R published ($(date -u +%H:%M:%S), $(cut -d' ' -f1-3 /proc/loadavg))"
$L submit --url http://127.0.0.1:19080 --entries 30000 --concurrency 1500 --rate $R --wait published --server-pid $PID --data-dir $D/gen/data --run r$R
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
