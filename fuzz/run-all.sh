#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 120), PARALLEL at a time
# (default 2), on the stable toolchain, and prints each target's final
# libFuzzer stats. Logs go to fuzz/logs/<target>.log.
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_EACH=${1:-120}
PARALLEL=${PARALLEL:-2}
TARGETS=${TARGETS:-$(cargo fuzz list)}
mkdir -p logs
cargo fuzz build --sanitizer none -a
run() {
    local t=$1
    mkdir -p "corpus/$t"
    cargo fuzz run --sanitizer none -a "$t" "corpus/$t" -- \
        -max_total_time="$SECONDS_EACH" -print_final_stats=1 -max_len=65536 \
        >"logs/$t.log" 2>&1 || echo "$t: FAILED (see logs/$t.log)"
    local execs
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "logs/$t.log" | grep -o '[0-9]*$' || echo '?')
    echo "$t: ${SECONDS_EACH}s, $execs execs, corpus $(ls "corpus/$t" | wc -l) files"
}
export -f run
export SECONDS_EACH
printf '%s\n' $TARGETS | xargs -P "$PARALLEL" -I{} bash -c 'run {}'
