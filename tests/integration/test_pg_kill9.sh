#!/usr/bin/env bash
# kill -9 against the PostgreSQL store (issue #15), on the fixture's cluster in a database of
# its own, against a faulty sandbox. Three `send` workers run the same batch at once; at
# seeded instants one of them, picked at random, is killed with -9 and a new worker takes its
# place (at least 10 kills while payouts are being made). The dead worker's rows stay leased
# to it until the lease lapses (3 x --timeout); the others carry on meanwhile and then resolve
# those rows by status queries, never by sending them again. When the killing stops the
# workers finish the batch (results come back through a `listen` on the same database), a
# `reconcile` from elsewhere finds every row final, and the sandbox's ledger holds every row
# exactly once with its amount.
set -euo pipefail
: "${PAYBATCH:?set by ctest}"
: "${PB_PG_URI_FILE:?set by ctest (fixture pg)}"
T=$(mktemp -d)
PIDS=()
DB=pbt_kill9_$$
BASE=$(cat "$PB_PG_URI_FILE") || { echo "FAIL: no test cluster URI in $PB_PG_URI_FILE" >&2; exit 1; }
cleanup() {
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    psql -q "$BASE" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$T"
}
trap cleanup EXIT
[ -n "${PB_KEEP:-}" ] && trap - EXIT
fail() { echo "FAIL: $*" >&2; for f in "$T"/*.err; do [ -s "$f" ] && { echo "== $f" >&2; tail -10 "$f" >&2; }; done; exit 1; }
export PAYBATCH_SECRET_KEY=pg-kill9-secret
unset PAYBATCH_CONFIG
RANDOM=${PB_KILL9_SEED:-151129}
ROUNDS=${PB_KILL9_ROUNDS:-16}

psql -q "$BASE" -c "CREATE DATABASE $DB" >/dev/null
URI=${BASE%/*}/$DB
# results come back through a `listen` on the same database (the workers run without one)
"$PAYBATCH" listen --state "$URI" --project-id 15 --callback-listen 127.0.0.1:0 \
    >"$T/L.out" 2>"$T/L.err" &
PIDS+=($!)
for _ in $(seq 100); do grep -q "^listening on" "$T/L.out" 2>/dev/null && break; sleep 0.05; done
LPORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$T/L.out")
[ -n "$LPORT" ] || fail "listen did not start"
"$PAYBATCH" sandbox --listen 127.0.0.1:0 --project-id 15 --ledger "$T/ledger" --seed "$RANDOM" \
    --callback-url "http://127.0.0.1:$LPORT/cb" --callback-delay-ms 100 \
    --callback-retry-scale 0.001 --callback-max-attempts 60 --slow-ms 300 --slow 0.2 --drop-after-record 0.05 --fail-500 0.05 --fail-429 0.05 \
    >"$T/sbx.out" 2>"$T/sbx.err" &
PIDS+=($!)
for _ in $(seq 100); do grep -q "^listening on" "$T/sbx.out" 2>/dev/null && break; sleep 0.05; done
PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$T/sbx.out")
[ -n "$PORT" ] || fail "sandbox did not start"
python3 - "$T/f.csv" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("method,payment_id,amount,currency,customer_id,ip_address,account_number,customer_name\n")
    for i in range(400):
        if i % 2:
            f.write(f"gcash,k9-{i},{1000 + i},PHP,c{i},198.51.100.{i % 250 + 1},09{i:08d}9,Juan Cruz\n")
        else:
            f.write(f"touchngo,k9-{i},{500 + i},MYR,c{i},203.0.113.{i % 250 + 1},6012{i:06d}9,\n")
PY
worker() { # NAME
    exec "$PAYBATCH" send -q --state "$URI" --gate-url "http://127.0.0.1:$PORT" --project-id 15 \
        --rate 30 --concurrency 16 --timeout 2 "$T/f.csv" >"$T/$1.out" 2>"$T/$1.err"
}
paid() { [ -f "$T/ledger" ] && wc -l <"$T/ledger" || echo 0; }
W=()
n=0
start_worker() {
    n=$((n + 1))
    worker "w$n" &
    W+=($!)
    PIDS+=($!)
}
for _ in 1 2 3; do start_worker; done
# the seeded instants count from the first payout (startup is slow under ASan)
for _ in $(seq 300); do [ "$(paid)" -gt 0 ] && break; sleep 0.05; done
kills=0
for r in $(seq "$ROUNDS"); do
    sleep "0.$(( RANDOM % 5 + 2 ))$(( RANDOM % 10 ))"
    before=$(paid)
    live=()
    for p in "${W[@]}"; do kill -0 "$p" 2>/dev/null && live+=("$p"); done
    [ ${#live[@]} -gt 0 ] || break
    victim=${live[$((RANDOM % ${#live[@]}))]}
    kill -9 "$victim" 2>/dev/null || true
    set +e
    wait "$victim" 2>/dev/null
    rc=$?
    set -e
    W=("${live[@]/$victim}")
    # a kill that counts: a worker died by -9 while payouts were being made
    [ $rc -ne 137 ] || [ "$(paid)" -lt 1 ] || [ "$(paid)" -ge 400 ] || kills=$((kills + 1))
    [ $rc -eq 137 ] || [ $rc -eq 75 ] || [ $rc -eq 0 ] || fail "round $r: a worker exited $rc"
    start_worker
done
echo "killed a working worker $kills times in $ROUNDS rounds"
[ "$kills" -ge 10 ] || fail "a working worker was killed only $kills times (want at least 10)"
# the survivors finish: they wait for the dead workers' leases to lapse, then resolve those
# rows themselves (bounded: 120 s)
for p in "${W[@]}"; do
    [ -n "$p" ] || continue
    for _ in $(seq 1200); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && fail "a surviving worker did not finish in 120 s"
    set +e
    wait "$p" 2>/dev/null
    rc=$?
    set -e
    [ $rc -eq 0 ] || [ $rc -eq 75 ] || fail "a surviving worker exited $rc"
done
open_rows() {
    psql -At "$URI" -c "SELECT count(*) FROM pb_rows WHERE state IN ('queued','sending','in_doubt')"
}
# nothing is left to send or to ask about: the survivors resolved the dead workers' rows
[ "$(open_rows)" -eq 0 ] || fail "$(open_rows) rows left queued, sending or in doubt by the survivors"
# the sandbox throttled some requests (--fail-429): the worker that saw one paused them all
paused=$(psql -At "$URI" -c "SELECT count(*) FROM pb_rate WHERE paused_until > now() - interval '1 hour'")
[ "$paused" -ge 1 ] || fail "no throttle was shared through the database"
# the workers' sum stayed within --rate 30 in every second, kills and replacements included
python3 - "$T/ledger" <<'PY' || fail "the combined rate is over --rate"
import json, sys
t = sorted(json.loads(l)["time_ms"] for l in open(sys.argv[1]) if l.strip())
j, worst = 0, 0
for i in range(len(t)):
    while t[i] - t[j] >= 1000:
        j += 1
    worst = max(worst, i - j + 1)
print(f"busiest 1-second window of the ledger: {worst} payouts (--rate 30)")
assert worst <= 32, worst
PY
# the callbacks settled the accepted rows; reconcile confirms from elsewhere (polling the rest)
for i in $(seq 15); do
    set +e
    timeout 60 "$PAYBATCH" reconcile -q --state "$URI" --gate-url "http://127.0.0.1:$PORT" \
        --project-id 15 --rate 200 --concurrency 16 --timeout 2 --wait 3 --out "$T/res.csv" \
        >"$T/rec.out" 2>"$T/rec.err"
    rc=$?
    set -e
    [ $rc -eq 0 ] && break
    [ $rc -eq 75 ] || fail "reconcile: exit $rc"
    sleep 0.3
done
[ $rc -eq 0 ] || fail "reconcile never found every row final"
python3 - "$T/ledger" "$T/f.csv" "$T/res.csv" <<'PY' || fail "ledger or results not exact"
import collections, csv, json, sys
led = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rows = {r["payment_id"]: int(r["amount"]) for r in csv.DictReader(open(sys.argv[2]))}
ids = collections.Counter(l["payment_id"] for l in led)
dup = [k for k, v in ids.items() if v > 1]
assert not dup, f"paid twice: {dup[:5]}"
assert set(ids) == set(rows), f"missing {len(set(rows) - set(ids))}"
assert all(l["amount"] == rows[l["payment_id"]] for l in led), "an amount differs"
res = list(csv.DictReader(open(sys.argv[3])))
assert len(res) == len(rows) and all(r["result"] == "success" for r in res), \
    collections.Counter(r["result"] for r in res)
PY
echo "ok kill -9: $kills kills, every row final, each paid exactly once"
