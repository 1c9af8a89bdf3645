#!/usr/bin/env bash
# The claimlog demo, in one command: a log, three witnesses and a vendor on
# loopback, in a temp directory; everything is stopped and removed on exit.
#
#   scripts/demo.sh
#
# 1. keys for the log, three witnesses (claimlog-witness) and a 2-of-3
#    tlog-policy; the log publishes only checkpoints two witnesses cosigned;
# 2. the vendor chat.example publishes its root key in its well-known
#    document (served by python3 -m http.server) and enrolls;
# 3. it publishes a data-handling claim (spec/examples/data-handling-1.json),
#    then a weakening next version: refused while it would take effect at
#    once, accepted with effectiveFrom after the 30-day notice period;
# 4. `claimlog history` shows the timeline with the diff;
# 5. a user verifies the claim against the log, saves an evidence bundle,
#    and, with every server stopped, verifies the bundle offline.
#
# Every step prints the command it runs. Needs: python3 (the vendor's web
# server and a little JSON editing) and cargo, unless CLAIMLOG_BIN_DIR names
# a directory holding built `claimlog` and `claimlog-witness` binaries.
# CLAIMLOG_DEMO_KEEP=1 keeps the temp directory. Exits non-zero if any step
# fails.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Generous: a loaded machine may take long to start a process.
START_TIMEOUT=${CLAIMLOG_DEMO_START_TIMEOUT:-60}
DOMAIN=chat.example
ORIGIN=demo.claimlog.example/log

PIDS=()
WORK=""
# The sed script reading the address from `listening on ADDR`.
LISTENING='s/^listening on //p'
cleanup() {
    local status=$?
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [[ -n "$WORK" ]]; then
        if [[ "${CLAIMLOG_DEMO_KEEP:-}" == 1 ]]; then
            echo "kept $WORK" >&2
        else
            rm -rf "$WORK"
        fi
    fi
    if [[ $status -ne 0 ]]; then
        echo "demo FAILED (exit $status)" >&2
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say() { printf '\n== %s\n' "$*"; }
die() {
    echo "demo: $*" >&2
    exit 1
}

# show ARGS: prints a command as a reader would type it.
show() {
    local out="$" a
    for a in "$@"; do
        if [[ "$a" =~ ^[A-Za-z0-9_./:=+@,-]+$ ]]; then
            out+=" $a"
        else
            out+=" '${a//\'/\'\\\'\'}'"
        fi
    done
    printf '%s\n' "$out"
}

# run ARGS: prints the command, runs it (failure ends the demo).
run() {
    show "$@"
    "$@"
}

# run_to FILE ARGS: prints the command with `> FILE`, runs it into FILE.
run_to() {
    local file=$1
    shift
    printf '%s > %s\n' "$(show "$@")" "$file"
    "$@" >"$file"
}

# refused ARGS: prints the command, runs it, and expects it to fail.
refused() {
    show "$@"
    if "$@"; then
        die "expected this command to be refused"
    fi
    echo "(refused, as it should be)"
}

# capture VAR ARGS: prints the command, runs it, prints its output and keeps
# its last line in VAR.
capture() {
    local var=$1 out
    shift
    show "$@"
    out=$("$@")
    printf '%s\n' "$out"
    printf -v "$var" '%s' "${out##*$'\n'}"
}

# start NAME SED ARGS: prints the command, runs it in the background with
# stdout in NAME.out and stderr in NAME.log, waits for the line from which
# the sed script SED prints its address (`host:port`) and sets ADDR.
start() {
    local name=$1 ready=$2
    shift 2
    printf '%s &\n' "$(show "$@")"
    # Created here: the background job opens them after this shell goes on.
    : >"$name.out"
    : >"$name.log"
    "$@" >>"$name.out" 2>>"$name.log" &
    local pid=$!
    PIDS+=("$pid")
    local deadline=$((SECONDS + START_TIMEOUT))
    ADDR=""
    while [[ -z "$ADDR" ]]; do
        ADDR=$(sed -n "$ready" "$name.out" | head -n 1)
        [[ -n "$ADDR" ]] && break
        if ! kill -0 "$pid" 2>/dev/null; then
            cat "$name.log" >&2
            die "$name exited before listening"
        fi
        ((SECONDS < deadline)) || {
            cat "$name.log" >&2
            die "$name did not start within ${START_TIMEOUT}s"
        }
        sleep 0.1
    done
    echo "($name: pid $pid, listening on $ADDR)"
}

# stop NAME PID: SIGTERM, then wait for the exit.
stop_pid() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# json FILE EXPR: a value from a JSON file (EXPR is Python over `d`).
json() {
    python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# draft EXAMPLE OUT EFFECTIVE_DAYS: an example statement dated now, effective
# EFFECTIVE_DAYS from now, without the continuity fields `claim next` fills.
draft() {
    python3 - "$1" "$2" "$3" <<'EOF'
import json, sys, time
src, out, days = sys.argv[1], sys.argv[2], int(sys.argv[3])
fmt = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
now = int(time.time())
v = json.load(open(src))
p = v["predicate"]
p["issuedAt"] = fmt(now)
p["effectiveFrom"] = fmt(now + days * 86400)
for k in ("validUntil", "supersedes"):
    p.pop(k, None)
p["sequence"] = 1
p["removedClaimIds"] = []
json.dump(v, open(out, "w"), indent=2, sort_keys=True)
open(out, "a").write("\n")
EOF
}

command -v python3 >/dev/null || die "python3 is needed (the vendor's web server)"

if [[ -n "${CLAIMLOG_BIN_DIR:-}" ]]; then
    BIN=$(cd "$CLAIMLOG_BIN_DIR" && pwd)
else
    say "Building claimlog and claimlog-witness"
    (cd "$ROOT" && run cargo build --quiet -p claimlog --bin claimlog \
        -p claimlog-witness --bin claimlog-witness)
    TARGET=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
    BIN=$TARGET/debug
fi
[[ -x "$BIN/claimlog" && -x "$BIN/claimlog-witness" ]] ||
    die "$BIN lacks claimlog or claimlog-witness"
# The commands as a reader types them. On PATH rather than shell functions:
# a function run in the background is a subshell, and `kill $!` would stop
# the subshell and leave the server running.
BIN=$(cd "$BIN" && pwd)
export PATH="$BIN:$PATH"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/claimlog-demo.XXXXXX")
cd "$WORK"
mkdir -p log vendor/www/.well-known user
echo "working in $WORK"

say "1. The log's key, three witnesses, a 2-of-3 witness policy"
capture LOG_VKEY claimlog keygen --name "$ORIGIN" --out log/log.key
POLICY="log $LOG_VKEY"$'\n'
for n in 1 2 3; do
    mkdir -p "witness$n"
    capture W_VKEY claimlog-witness keygen --name "witness$n.demo.example/w" \
        --out "witness$n/witness.key"
    start "witness$n/witness" "$LISTENING" claimlog-witness serve --data-dir "witness$n/data" \
        --listen 127.0.0.1:0 --key "witness$n/witness.key" --log "$ORIGIN=$LOG_VKEY"
    POLICY+="witness w$n $W_VKEY http://$ADDR"$'\n'
done
POLICY+="group two-of-three 2 w1 w2 w3"$'\n'"quorum two-of-three"$'\n'
printf '%s' "$POLICY" >witnesses.policy
echo "$ cat witnesses.policy"
cat witnesses.policy

say "2. The vendor's keys and its well-known document"
run claimlog keygen --name "$DOMAIN/root" --out vendor/root.key
run claimlog keygen --name "$DOMAIN/signing" --out vendor/signing.key
run_to vendor/www/.well-known/claimlog.json \
    claimlog well-known --domain "$DOMAIN" --root-key vendor/root.key
cat vendor/www/.well-known/claimlog.json
# Stands in for https://chat.example/.well-known/claimlog.json.
start vendor/web 's|^Serving HTTP on .*(http://\([^/]*\)/).*|\1|p' \
    python3 -u -m http.server --bind 127.0.0.1 --directory vendor/www 0
WEB=http://$ADDR

say "3. The log: domain admission, witnessed checkpoints"
cat >log/log.toml <<EOF
data_dir = "log/data"
origin = "$ORIGIN"
key_file = "log/log.key"
admission = "domain"
batch_interval_ms = 50
checkpoint_interval_ms = 200
well_known_base_urls = { "$DOMAIN" = "$WEB" }
EOF
echo "$ cat log/log.toml"
cat log/log.toml
start log/log "$LISTENING" claimlog serve --config log/log.toml --listen 127.0.0.1:0 \
    --witness-policy witnesses.policy
LOG=http://$ADDR

say "4. The vendor enrolls (its root key must match the well-known document)"
run claimlog enroll --log "$LOG" --domain "$DOMAIN" --root-key vendor/root.key \
    --signing-key vendor/signing.key

say "5. The vendor publishes its first claim"
draft "$ROOT/spec/examples/data-handling-1.json" vendor/v1.draft.json 0
run_to vendor/v1.json claimlog claim next vendor/v1.draft.json --log "$LOG"
run claimlog claim lint vendor/v1.json
run_to vendor/v1.env claimlog sign --key vendor/signing.key vendor/v1.json
run_to vendor/v1.receipt.json claimlog submit --log "$LOG" vendor/v1.env
V1_INDEX=$(json vendor/v1.receipt.json 'd["index"]')
echo "logged at index $V1_INDEX; the receipt carries a witnessed tlog-proof:"
json vendor/v1.receipt.json 'd["proof"]'

say "6. A weakening next version (retention PT72H -> P30D, metadata claim dropped)"
echo "Effective at once, the log refuses it: the claim promised 30 days' notice."
draft "$ROOT/spec/examples/data-handling-2.json" vendor/v2-now.draft.json 0
run_to vendor/v2-now.json claimlog claim next vendor/v2-now.draft.json --log "$LOG"
run_to vendor/v2-now.env claimlog sign --key vendor/signing.key vendor/v2-now.json
refused claimlog submit --log "$LOG" vendor/v2-now.env
echo "Effective in 31 days, it is accepted."
draft "$ROOT/spec/examples/data-handling-2.json" vendor/v2.draft.json 31
run_to vendor/v2.json claimlog claim next vendor/v2.draft.json --log "$LOG"
run_to vendor/v2.env claimlog sign --key vendor/signing.key vendor/v2.json
run_to vendor/v2.receipt.json claimlog submit --log "$LOG" vendor/v2.env
V2_INDEX=$(json vendor/v2.receipt.json 'd["index"]')
echo "logged at index $V2_INDEX"

say "7. Anyone can read the vendor's history, with the diff"
run claimlog history --log "$LOG" "$DOMAIN"

say "8. A user verifies the claim against the log and saves the evidence"
run claimlog verify --log "$LOG" --policy witnesses.policy --state user/state "$V2_INDEX"
run claimlog bundle --log "$LOG" "$V2_INDEX" -o user/claim.bundle --policy witnesses.policy

say "9. Every server stops; the bundle still verifies, offline"
for pid in "${PIDS[@]}"; do
    stop_pid "$pid"
done
echo "(log, witnesses and vendor web server stopped)"
run claimlog verify-bundle --policy witnesses.policy user/claim.bundle
echo "The same bundle with the statement's \"30 days\" changed to \"90 days\" does not:"
python3 - user/claim.bundle user/tampered.bundle <<'EOF'
import base64, json, sys
# The statement sits in the DSSE envelope, in the log entry, in the
# tlog-proof's `extra` line: change it there, so the bundle still parses.
lines = open(sys.argv[1]).read().split("\n")
i = next(i for i, l in enumerate(lines) if l.startswith("extra "))
entry = json.loads(base64.b64decode(lines[i][len("extra "):]))
payload = base64.b64decode(entry["envelope"]["payload"])
assert b"30 days" in payload, "bundle without the statement text"
payload = payload.replace(b"30 days", b"90 days")
entry["envelope"]["payload"] = base64.b64encode(payload).decode()
entry = json.dumps(entry, separators=(",", ":")).encode()
lines[i] = "extra " + base64.b64encode(entry).decode()
open(sys.argv[2], "w").write("\n".join(lines))
EOF
refused claimlog verify-bundle --policy witnesses.policy user/tampered.bundle

say "Done: the demo verified a witnessed, weakened claim offline."
