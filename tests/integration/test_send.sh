#!/usr/bin/env bash
# `paybatch send` end to end against the real sandbox on loopback: exactly once through
# invalid rows, resume, every sandbox fault, kill -9 at seeded instants, the rate limit,
# payment ids of other batches and a 3041 whose payment has another amount. (The rate limit
# has its own test, test_send_rate.sh, run alone.)
set -euo pipefail
: "${PB_SOURCE_DIR:?set by ctest}"
. "$PB_SOURCE_DIR/tests/integration/lib.sh"
export PAYBATCH_SECRET_KEY=send-test-secret

# start_sandbox NAME [options...]: sets PORT_<NAME>
start_sandbox() {
    local name=$1; shift
    "$PAYBATCH" sandbox --listen 127.0.0.1:0 --project-id 77 --ledger "$T/$name.ledger" "$@" \
        >"$T/$name.out" 2>"$T/$name.err" &
    PIDS+=($!)
    for _ in $(seq 100); do grep -q "^listening on" "$T/$name.out" 2>/dev/null && break; sleep 0.05; done
    local port
    port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$T/$name.out")
    [ -n "$port" ] || fail "sandbox $name did not start"
    eval "PORT_$name=$port"
}

# gen FILE N PREFIX [invalid]: a mixed Touch'n Go + GCash file of N valid rows (+2 invalid)
gen() {
    python3 - "$@" <<'PY'
import sys
path, n, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
invalid = len(sys.argv) > 4
with open(path, "w") as f:
    f.write("method,payment_id,amount,currency,customer_id,ip_address,account_number,customer_name\n")
    for i in range(n):
        if i % 2:
            f.write(f"gcash,{prefix}-{i},{1000 + i},PHP,c{i},198.51.100.{i % 250 + 1},09{i:08d}9,Juan Cruz\n")
        else:
            f.write(f"touchngo,{prefix}-{i},{500 + i},MYR,c{i},203.0.113.{i % 250 + 1},6012{i:06d}9,\n")
    if invalid:
        f.write(f"gcash,{prefix}-bad1,5,PHP,cx,198.51.100.9,09171234569,Too Small\n")
        f.write(f"touchngo,{prefix}-bad2,600,MYR,cy,not-an-ip,601234569,\n")
PY
}

# check_ledger NAME FILE: every valid row of FILE in the ledger exactly once, with its amount
check_ledger() {
    python3 - "$T/$1.ledger" "$2" <<'PY' || fail "ledger $1 does not match $2"
import csv, json, sys, collections
led = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rows = [r for r in csv.DictReader(open(sys.argv[2])) if "-bad" not in r["payment_id"]]
ids = collections.Counter(l["payment_id"] for l in led)
dup = [k for k, v in ids.items() if v > 1]
assert not dup, f"paid twice: {dup[:5]}"
want = {r["payment_id"]: int(r["amount"]) for r in rows}
got = {l["payment_id"]: l["amount"] for l in led}
assert set(got) == set(want), f"missing {sorted(set(want)-set(got))[:5]} extra {sorted(set(got)-set(want))[:5]}"
for k, v in want.items():
    assert got[k] == v, f"{k}: ledger amount {got[k]} != file {v}"
PY
}

# state COUNT_NAME: rows of the one batch in $T/$DB in that state (status --log-format json)
state() {
    "$PAYBATCH" status --state "$T/$DB" --log-format json | python3 -c '
import json, sys
tot = {}
for line in sys.stdin:
    for k, v in json.loads(line)["states"].items(): tot[k] = tot.get(k, 0) + v
print(tot.get(sys.argv[1], 0))' "$1"
}

# ---- 1. invalid rows: nothing sent; --skip-invalid sends exactly the valid ones; resume --
start_sandbox A
gen "$T/mixed.csv" 20 mix invalid
DB=a.db
set +e
"$PAYBATCH" send --state "$T/$DB" --gate-url "http://127.0.0.1:$PORT_A" --project-id 77 \
    "$T/mixed.csv" >"$T/1.out" 2>"$T/1.err"
rc=$?
set -e
[ $rc -eq 65 ] || fail "invalid rows without --skip-invalid: exit $rc, want 65"
[ ! -s "$T/A.ledger" ] || fail "something was sent although rows were invalid"
grep -q "nothing was sent" "$T/1.out" || fail "no 'nothing was sent' line"
set +e
"$PAYBATCH" send --state "$T/$DB" --gate-url "http://127.0.0.1:$PORT_A" --project-id 77 \
    --skip-invalid --rate 200 --concurrency 16 "$T/mixed.csv" >"$T/2.out" 2>"$T/2.err"
rc=$?
set -e
[ $rc -eq 75 ] || fail "--skip-invalid: exit $rc, want 75 (rows accepted, results pending)"
check_ledger A "$T/mixed.csv"
[ "$(state accepted)" = 20 ] || fail "want 20 accepted rows, got $(state accepted)"
[ "$(state invalid)" = 2 ] || fail "want 2 invalid rows, got $(state invalid)"
set +e
"$PAYBATCH" send --state "$T/$DB" --gate-url "http://127.0.0.1:$PORT_A" --project-id 77 \
    --skip-invalid "$T/mixed.csv" >"$T/3.out" 2>"$T/3.err"
rc=$?
set -e
[ $rc -eq 75 ] || fail "resume: exit $rc, want 75"
check_ledger A "$T/mixed.csv"
echo "ok 1 invalid rows, --skip-invalid, resume"

# ---- 2. the same payment id in another batch of the store: refused before sending -------
python3 - "$T/mixed.csv" "$T/reuse.csv" <<'PY'
import sys
lines = open(sys.argv[1]).read().splitlines()
open(sys.argv[2], "w").write(lines[0] + "\n" + lines[1].replace(",Juan", ",Juan").replace("c0,", "other,") + "\n")
PY
set +e
"$PAYBATCH" send --state "$T/$DB" --gate-url "http://127.0.0.1:$PORT_A" --project-id 77 \
    "$T/reuse.csv" >"$T/4.out" 2>"$T/4.err"
rc=$?
set -e
[ $rc -eq 65 ] || fail "payment id of another batch: exit $rc, want 65"
grep -q "payment-id-used" "$T/4.out" || fail "no payment-id-used finding"
check_ledger A "$T/mixed.csv"
echo "ok 2 payment-id-used"

# ---- 3. Gate answers 3041 for a payment with another amount: a conflict, not a success ---
python3 - "$T/mixed.csv" "$T/conflict.csv" <<'PY'
import sys
lines = open(sys.argv[1]).read().splitlines()
f = lines[1].split(",")
f[2] = str(int(f[2]) + 1)
open(sys.argv[2], "w").write(lines[0] + "\n" + ",".join(f) + "\n")
PY
DB=c.db
set +e
"$PAYBATCH" send --state "$T/$DB" --gate-url "http://127.0.0.1:$PORT_A" --project-id 77 \
    "$T/conflict.csv" >"$T/5.out" 2>"$T/5.err"
rc=$?
set -e
[ $rc -eq 0 ] || fail "conflict: exit $rc, want 0 (the row is final: rejected)"
[ "$(state rejected)" = 1 ] || fail "conflict: the row is not rejected"
[ "$(state accepted)" = 0 ] && [ "$(state success)" = 0 ] || fail "conflict adopted as success"
check_ledger A "$T/mixed.csv"
echo "ok 3 3041 with another amount is a conflict"

# ---- 4. every sandbox fault on: still exactly once ---------------------------------------
start_sandbox F --seed 7 --fail-429 0.15 --fail-500 0.15 --drop-after-record 0.15 \
    --slow-ms 2500 --slow 0.1
gen "$T/faults.csv" 40 flt
DB=f.db
for run in $(seq 12); do
    set +e
    timeout 120 "$PAYBATCH" send --state "$T/$DB" --gate-url "http://127.0.0.1:$PORT_F" \
        --project-id 77 --rate 100 --concurrency 8 --timeout 1 "$T/faults.csv" \
        >"$T/f$run.out" 2>"$T/f$run.err"
    rc=$?
    set -e
    [ $rc -eq 75 ] || [ $rc -eq 0 ] || fail "faults run $run: exit $rc"
    pending=$(( $(state queued) + $(state sending) + $(state in_doubt) ))
    [ "$pending" -eq 0 ] && break
done
[ "$pending" -eq 0 ] || fail "faults: $pending rows still not accepted after 12 runs"
done_rows=$(( $(state accepted) + $(state success) ))
[ "$done_rows" = 40 ] || fail "faults: want 40 accepted or success, got $done_rows"
check_ledger F "$T/faults.csv"
grep -q "429\|throttled" "$T/F.err" "$T"/f*.err 2>/dev/null || true
echo "ok 4 faults (429, 500, drop after record, slow past the timeout): exactly once in $run runs"

# ---- 5. kill -9 at seeded instants, then resume: exactly once ----------------------------
start_sandbox K --seed 11 --slow-ms 300 --slow 0.3 --drop-after-record 0.05
gen "$T/kill.csv" 60 kil
DB=k.db
RANDOM=20261129
for i in $(seq 20); do
    "$PAYBATCH" send --state "$T/$DB" --gate-url "http://127.0.0.1:$PORT_K" --project-id 77 \
        --rate 50 --concurrency 8 --timeout 2 "$T/kill.csv" >"$T/k.out" 2>"$T/k.err" &
    victim=$!
    sleep "0.$(( RANDOM % 9 + 1 ))$(( RANDOM % 10 ))"
    kill -9 "$victim" 2>/dev/null || true
    wait "$victim" 2>/dev/null || true
done
for run in $(seq 10); do
    set +e
    timeout 120 "$PAYBATCH" send --state "$T/$DB" --gate-url "http://127.0.0.1:$PORT_K" \
        --project-id 77 --rate 100 --timeout 2 "$T/kill.csv" >"$T/kf.out" 2>"$T/kf$run.err"
    rc=$?
    set -e
    [ $rc -eq 75 ] || [ $rc -eq 0 ] || fail "after kill -9, run $run: exit $rc"
    pending=$(( $(state queued) + $(state sending) + $(state in_doubt) ))
    [ "$pending" -eq 0 ] && break
done
[ "$pending" -eq 0 ] || fail "kill -9: $pending rows still pending"
done_rows=$(( $(state accepted) + $(state success) ))
[ "$done_rows" = 60 ] || fail "kill -9: want 60 accepted or success, got $done_rows"
check_ledger K "$T/kill.csv"
echo "ok 5 kill -9 at 20 instants, then resume: exactly once"

# ---- 6. settings are part of the batch; a refused signature is a configuration error --------
gen "$T/cfg.csv" 6 cfg
DB=g.db
set +e
PAYBATCH_SECRET_KEY=wrong-secret "$PAYBATCH" send --state "$T/$DB" \
    --gate-url "http://127.0.0.1:$PORT_A" --project-id 77 "$T/cfg.csv" >"$T/g1.out" 2>"$T/g1.err"
rc=$?
set -e
[ $rc -eq 78 ] || fail "wrong secret: exit $rc, want 78"
[ "$(state queued)" = 6 ] || fail "wrong secret: rows must stay queued (nothing was paid)"
[ "$(state rejected)" = 0 ] || fail "wrong secret: rows were rejected for good"
set +e
"$PAYBATCH" send --state "$T/$DB" --gate-url "http://127.0.0.1:$PORT_A" --project-id 77 \
    "$T/cfg.csv" >"$T/g2.out" 2>"$T/g2.err"
rc=$?
"$PAYBATCH" send --state "$T/$DB" --gate-url "http://127.0.0.1:$PORT_A" --project-id 78 \
    "$T/cfg.csv" >"$T/g3.out" 2>"$T/g3.err"
rc3=$?
"$PAYBATCH" send --state "$T/$DB" --gate-url "http://127.0.0.1:$PORT_A" --project-id 77 \
    --method gcash "$T/cfg.csv" >"$T/g4.out" 2>"$T/g4.err"
rc4=$?
set -e
[ $rc -eq 75 ] || fail "right secret after the wrong one: exit $rc, want 75"
[ "$(state accepted)" = 6 ] || fail "right secret: want 6 accepted"
[ $rc3 -eq 78 ] && grep -q "other settings" "$T/g3.err" || fail "another project id on resume: exit $rc3, want 78"
[ $rc4 -eq 78 ] || fail "another --method on resume: exit $rc4, want 78"
(cd "$T" && "$PAYBATCH" send -q --sandbox "$T/cfg.csv" >"$T/g5.out" 2>"$T/g5.err") || true
[ -f "$T/paybatch-sandbox.db" ] && [ ! -f "$T/paybatch.db" ] || fail "--sandbox must keep its own store"
# one process per batch: while another holds the batch's lock, send and reconcile wait their turn
BATCH=$(sha256sum "$T/cfg.csv" | cut -c1-16)
flock -n "$T/$DB.$BATCH.lock" sleep 5 &
HOLDER=$!
sleep 0.3
set +e
"$PAYBATCH" send --state "$T/$DB" --gate-url "http://127.0.0.1:$PORT_A" --project-id 77 \
    "$T/cfg.csv" >"$T/g6.out" 2>"$T/g6.err"
rc=$?
"$PAYBATCH" reconcile --state "$T/$DB" --gate-url "http://127.0.0.1:$PORT_A" --project-id 77 \
    >"$T/g7.out" 2>"$T/g7.err"
rc7=$?
set -e
kill "$HOLDER" 2>/dev/null || true
[ $rc -eq 75 ] && grep -q "another paybatch process" "$T/g6.err" || fail "a locked batch: send exit $rc"
[ $rc7 -eq 75 ] || fail "a locked batch: reconcile exit $rc7"
echo "ok 6 wrong secret (78, rows queued), settings fixed per batch, --sandbox store, batch lock"

echo "send: all checks passed"
