#!/usr/bin/env bash
# The database restarted in the middle of a run (issue #15). A cluster of its own (the
# fixture's is shared with tests running beside this one): `send` and `listen` on it, the
# server stopped hard (immediate: no goodbye to the clients) and started again while rows are
# in flight. Two `send` workers of the batch each exit 75 (incomplete) or carry on after
# reconnecting; `listen` stays up
# and records the callbacks that arrive after the restart (the sandbox retries those it could
# not deliver). Runs of `send` then finish the batch: every row final, each paid exactly once.
set -euo pipefail
: "${PAYBATCH:?set by ctest}"
: "${PB_SOURCE_DIR:?set by ctest}"
T=$(mktemp -d)
PIDS=()
CL="$T/cluster"
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    bash "$PB_SOURCE_DIR/scripts/pg-test-cluster.sh" stop "$CL" || true
    rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for f in "$T"/*.err; do [ -s "$f" ] && { echo "== $f" >&2; tail -20 "$f" >&2; }; done; exit 1; }
export PAYBATCH_SECRET_KEY=pg-restart-secret
unset PAYBATCH_CONFIG

URI=$(bash "$PB_SOURCE_DIR/scripts/pg-test-cluster.sh" start "$CL") || fail "cannot start a PostgreSQL cluster"
wait_port() {
    for _ in $(seq 100); do grep -q "^listening on" "$1" 2>/dev/null && break; sleep 0.05; done
    sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$1"
}
python3 - "$T/in.csv" <<'PY'
import sys
sufs = ["01", "04", "09", "09"]
with open(sys.argv[1], "w") as f:
    f.write("method,payment_id,amount,currency,customer_id,ip_address,account_number,customer_name\n")
    for i in range(120):
        s = sufs[i % len(sufs)]
        if i % 2:
            f.write(f"gcash,rs-{i}-s{s},{1000 + i},PHP,c{i},198.51.100.{i % 250 + 1},09{i:07d}{s},Juan Cruz\n")
        else:
            f.write(f"touchngo,rs-{i}-s{s},{500 + i},MYR,c{i},203.0.113.{i % 250 + 1},6012{i:05d}{s},\n")
PY

"$PAYBATCH" listen --state "$URI" --project-id 15 --callback-listen 127.0.0.1:0 \
    >"$T/L.out" 2>"$T/L.err" &
LPID=$!
PIDS+=($LPID)
LPORT=$(wait_port "$T/L.out")
[ -n "$LPORT" ] || fail "listen did not start"
"$PAYBATCH" sandbox --listen 127.0.0.1:0 --project-id 15 --ledger "$T/ledger" \
    --callback-url "http://127.0.0.1:$LPORT/cb" --callback-delay-ms 100 \
    --callback-retry-scale 0.001 --callback-max-attempts 60 --seed 5 --slow 0.2 --slow-ms 200 \
    >"$T/sbx.out" 2>"$T/sbx.err" &
PIDS+=($!)
SPORT=$(wait_port "$T/sbx.out")
[ -n "$SPORT" ] || fail "sandbox did not start"

run() { # NAME
    timeout 120 "$PAYBATCH" send -q --state "$URI" --gate-url "http://127.0.0.1:$SPORT" \
        --project-id 15 --rate 40 --concurrency 8 --timeout 2 "$T/in.csv" >"$T/$1.out" 2>"$T/$1.err"
}
# two workers on the batch across the restart
set +e
run s1 &
SEND=$!
run s1b &
SEND2=$!
sleep 1.5
bash "$PB_SOURCE_DIR/scripts/pg-test-cluster.sh" restart "$CL" || fail "restart failed"
wait $SEND2
rc2=$?
wait $SEND
rc=$?
set -e
for r in $rc $rc2; do
    [ $r -eq 75 ] || [ $r -eq 0 ] || fail "send across the restart: exit $r, want 75 or 0"
done
[ $rc -eq 0 ] || grep -q "database is unavailable" "$T/s1.err" || fail "send: no clear message"
echo "two workers across a restart: exit $rc and $rc2"
kill -0 $LPID 2>/dev/null || fail "listen died with the database"
for i in $(seq 10); do
    set +e
    run "s$((i + 1))"
    rc=$?
    set -e
    [ $rc -eq 0 ] && break
    [ $rc -eq 75 ] || fail "send after the restart: exit $rc"
    sleep 0.5
done
[ $rc -eq 0 ] || fail "the batch did not finish after the restart"
# the last callbacks land through the listener that lived through the restart
for _ in $(seq 100); do
    open=$(psql -At "$URI" -c "SELECT count(*) FROM pb_rows WHERE state NOT IN ('success','decline','reversed')")
    [ "$open" -eq 0 ] && break
    sleep 0.1
done
[ "$open" -eq 0 ] || fail "$open rows not final through listen"
python3 - "$T/ledger" "$T/in.csv" <<'PY' || fail "ledger not exact"
import collections, csv, json, sys
led = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rows = {r["payment_id"]: int(r["amount"]) for r in csv.DictReader(open(sys.argv[2]))}
ids = collections.Counter(l["payment_id"] for l in led)
assert not [k for k, v in ids.items() if v > 1], "paid twice"
assert set(ids) == set(rows), f"missing {len(set(rows) - set(ids))}"
assert all(l["amount"] == rows[l["payment_id"]] for l in led), "an amount differs"
PY
echo "ok database restarted mid-run: listen survived, send 75 then finished, ledger exact"
