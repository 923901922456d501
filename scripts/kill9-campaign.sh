#!/usr/bin/env bash
# A kill -9 campaign (not part of CI): `send` killed at KILLS seeded random instants against a
# faulty sandbox, then resumed until every row is accepted; the sandbox's ledger must hold every
# row exactly once with its amount. Usage: scripts/kill9-campaign.sh [KILLS=100] [ROWS=300] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
KILLS=${1:-100}
ROWS=${2:-300}
RANDOM=${3:-20261129}
BIN=${PAYBATCH:-./build/paybatch}
T=$(mktemp -d)
SRV=""
cleanup() { [ -n "$SRV" ] && kill "$SRV" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
export PAYBATCH_SECRET_KEY=kill9-campaign
"$BIN" sandbox --listen 127.0.0.1:0 --project-id 5 --ledger "$T/ledger" --seed "$RANDOM" \
    --slow-ms 300 --slow 0.2 --drop-after-record 0.05 --fail-500 0.05 --fail-429 0.05 \
    >"$T/sbx.out" 2>"$T/sbx.err" &
SRV=$!
for _ in $(seq 100); do grep -q "^listening on" "$T/sbx.out" 2>/dev/null && break; sleep 0.05; done
PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$T/sbx.out")
python3 - "$T/f.csv" "$ROWS" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("method,payment_id,amount,currency,customer_id,ip_address,account_number,customer_name\n")
    for i in range(int(sys.argv[2])):
        if i % 2:
            f.write(f"gcash,k9-{i},{1000 + i},PHP,c{i},198.51.100.{i % 250 + 1},09{i:08d}9,Juan Cruz\n")
        else:
            f.write(f"touchngo,k9-{i},{500 + i},MYR,c{i},203.0.113.{i % 250 + 1},6012{i:06d}9,\n")
PY
ARGS=(send -q --yes --state "$T/s.db" --gate-url "http://127.0.0.1:$PORT" --project-id 5
    --rate 200 --concurrency 16 --timeout 2 "$T/f.csv")
run() { "$BIN" "${ARGS[@]}" >"$T/out" 2>"$T/err"; }
for i in $(seq "$KILLS"); do
    # paybatch itself in the background (not a subshell around it): kill -9 must hit send,
    # or it lives on as an orphan holding the batch's lock while the resumes below give up
    "$BIN" "${ARGS[@]}" >"$T/out" 2>"$T/err" &
    victim=$!
    sleep "0.$(( RANDOM % 9 ))$(( RANDOM % 10 ))"
    kill -9 "$victim" 2>/dev/null || true
    wait "$victim" 2>/dev/null || true
done
for i in $(seq 20); do
    set +e
    run
    rc=$?
    set -e
    [ $rc -eq 0 ] || [ $rc -eq 75 ] || { echo "resume: exit $rc"; cat "$T/err"; exit 1; }
    left=$("$BIN" status --state "$T/s.db" --log-format json | python3 -c '
import json, sys
s = json.loads(sys.stdin.readline())["states"]
print(s["queued"] + s["sending"] + s["in_doubt"])')
    [ "$left" -eq 0 ] && break
done
python3 - "$T/ledger" "$T/f.csv" "$KILLS" <<'PY'
import collections, csv, json, sys
led = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rows = {r["payment_id"]: int(r["amount"]) for r in csv.DictReader(open(sys.argv[2]))}
ids = collections.Counter(l["payment_id"] for l in led)
dup = [k for k, v in ids.items() if v > 1]
assert not dup, f"paid twice: {dup[:5]}"
assert set(ids) == set(rows), f"missing {len(set(rows) - set(ids))}"
assert all(l["amount"] == rows[l["payment_id"]] for l in led), "an amount differs"
print(f"kill -9 campaign: {sys.argv[3]} kills, {len(rows)} rows, each paid exactly once")
PY
