#!/usr/bin/env bash
# `paybatch listen` end to end: a `send` (against the sandbox, which POSTs signed callbacks to
# the listener) and a `listen` in another process share one SQLite state file. Rows reach the
# sandbox's scripted outcomes; duplicated, reordered and wrongly signed callbacks change
# nothing wrong; a kill -9 of `listen` while callbacks flow, then a restart on the same port:
# the sandbox retries and every result is recorded once.
set -euo pipefail
: "${PB_SOURCE_DIR:?set by ctest}"
. "$PB_SOURCE_DIR/tests/integration/lib.sh"
export PAYBATCH_SECRET_KEY=listen-test-secret

# start_listen NAME DB [PORT]: sets LPORT, LPID
start_listen() {
    "$PAYBATCH" listen -v --state "$T/$2" --callback-listen "127.0.0.1:${3:-0}" --log-format json \
        >"$T/$1.out" 2>"$T/$1.err" &
    LPID=$!
    PIDS+=($LPID)
    LPORT=$(wait_listening "$T/$1.out")
    [ -n "$LPORT" ] || fail "listen $1 did not start"
}

# start_sandbox NAME [options...]: sets SPORT
start_sandbox() {
    local name=$1; shift
    "$PAYBATCH" sandbox --listen 127.0.0.1:0 --project-id 77 --ledger "$T/$name.ledger" \
        --callback-url "http://127.0.0.1:$LPORT/cb" --callback-delay-ms 100 \
        --callback-retry-scale 0.001 "$@" >"$T/$name.out" 2>"$T/$name.err" &
    PIDS+=($!)
    SPORT=$(wait_listening "$T/$name.out")
    [ -n "$SPORT" ] || fail "sandbox $name did not start"
}

# gen FILE N PREFIX: rows whose account numbers end in 01 (decline), 02 (decline), 04 (success,
# then reversed) or 09 (success); the suffix is repeated in the payment id
gen() {
    python3 - "$@" <<'PY'
import sys
path, n, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sufs = ["01", "02", "04", "09", "09"]
with open(path, "w") as f:
    f.write("method,payment_id,amount,currency,customer_id,ip_address,account_number,customer_name\n")
    for i in range(n):
        s = sufs[i % len(sufs)]
        if i % 2:
            f.write(f"gcash,{prefix}-{i}-s{s},{1000 + i},PHP,c{i},198.51.100.{i % 250 + 1},09{i:07d}{s},Juan Cruz\n")
        else:
            f.write(f"touchngo,{prefix}-{i}-s{s},{500 + i},MYR,c{i},203.0.113.{i % 250 + 1},6012{i:05d}{s},\n")
PY
}

# check DB PREFIX MODE: every row of PREFIX in its scripted state (MODE strict), or in its
# scripted state or an earlier one (MODE lenient: callbacks signed with a wrong key never land)
check() {
    python3 - "$T/$1" "$2" "$3" <<'PY' || fail "rows of $2 in $1 are not where they should be"
import sqlite3, sys
db, prefix, mode = sys.argv[1:4]
want = {"01": "decline", "02": "decline", "04": "reversed", "09": "success"}
con = sqlite3.connect(db, timeout=10)
rows = con.execute("SELECT payment_id, state FROM rows WHERE payment_id LIKE ?", (prefix + "-%",)).fetchall()
assert rows, "no rows"
bad = []
for pid, st in rows:
    w = want[pid.rsplit("-s", 1)[1]]
    # a wrongly signed callback never lands: the row keeps the last well-signed news
    # (accepted; or success when only the reversal's callback was signed wrongly)
    ok = st == w or (mode == "lenient" and (st == "accepted" or (w == "reversed" and st == "success")))
    if not ok:
        bad.append((pid, st, w))
assert not bad, f"{len(bad)} rows off, e.g. {bad[:5]}"
PY
}

# settled DB PREFIX N: wait (bounded) until N rows of PREFIX are final
settled() {
    for _ in $(seq 300); do
        n=$(python3 - "$T/$1" "$2" <<'PY'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], timeout=10)
print(con.execute("SELECT count(*) FROM rows WHERE payment_id LIKE ? AND state IN "
                  "('success','decline','reversed','error')", (sys.argv[2] + "-%",)).fetchone()[0])
PY
)
        [ "$n" -ge "$3" ] && return 0
        sleep 0.1
    done
    fail "only $n of $3 rows of $2 settled"
}

send() { # send NAME DB FILE
    set +e
    timeout 120 "$PAYBATCH" send --state "$T/$2" --gate-url "http://127.0.0.1:$SPORT" \
        --project-id 77 --rate 500 --concurrency 16 "$T/$3" >"$T/$1.out" 2>"$T/$1.err"
    local rc=$?
    set -e
    [ $rc -eq 0 ] || [ $rc -eq 75 ] || fail "send $1: exit $rc"
}

# ---- 1. send + listen on one file: the scripted outcomes ---------------------------------
DB=s.db
start_listen L1 "$DB"
start_sandbox A
gen "$T/a.csv" 40 a
send SA "$DB" a.csv
settled "$DB" a 40
sleep 0.3 # the reversals come after their successes
check "$DB" a strict
"$PAYBATCH" status --state "$T/$DB" --log-format json >"$T/status.json"
python3 - "$T/status.json" <<'PY' || fail "status does not show the outcomes"
import json, sys
st = [json.loads(l) for l in open(sys.argv[1])][0]["states"]
assert st["decline"] == 16 and st["reversed"] == 8 and st["success"] == 16, st
PY

# ---- 2. faults: duplicates, reordering, wrong keys -----------------------------------------
start_sandbox B --callback-dup 0.5 --callback-reorder 0.5 --callback-wrong-key 0.3 \
    --callback-max-attempts 4 --seed 7
gen "$T/b.csv" 60 b
send SB "$DB" b.csv
sleep 2 # every callback attempt has run (wrong keys give up after 4 quick attempts)
check "$DB" b lenient
grep -q '"event":"callback.bad_signature"' "$T/L1.err" || fail "no wrongly signed callback seen"
grep -q '"event":"callback.duplicate"' "$T/L1.err" || fail "no duplicate seen"
grep -q '"event":"callback.stale"' "$T/L1.err" || fail "no reordered callback seen"

# ---- 3. kill -9 of listen while callbacks flow, restart on the same port ------------------
start_sandbox C
gen "$T/c.csv" 150 c
send SC "$DB" c.csv &
SEND_PID=$!
sleep 0.4
kill -9 "$LPID"
wait "$LPID" 2>/dev/null || true
sleep 0.3
start_listen L2 "$DB" "$LPORT"
wait "$SEND_PID" || fail "send C failed"
settled "$DB" c 150
sleep 0.5
check "$DB" c strict
# each transition of a row applied once over both listeners (json logs)
cat "$T/L1.err" "$T/L2.err" | python3 -c '
import json, sys, collections
seen = collections.Counter()
for line in sys.stdin:
    try: e = json.loads(line)
    except ValueError: continue
    if e.get("event") == "callback.applied" and e.get("payment_id", "").startswith("c-"):
        seen[(e["payment_id"], e["message"].split(" (")[0])] += 1
dup = [k for k, v in seen.items() if v > 1]
assert not dup, f"applied twice: {dup[:5]}"
' || fail "a result was recorded twice"

# ---- 4. SIGTERM: exit 0 ------------------------------------------------------------------
kill -TERM "$LPID"
set +e
wait "$LPID"
rc=$?
set -e
[ $rc -eq 0 ] || fail "listen after SIGTERM: exit $rc"
grep -q '"event":"listen.summary"' "$T/L2.err" || fail "no summary after SIGTERM"
! grep -q "$PAYBATCH_SECRET_KEY" "$T"/L*.err || fail "the secret is in the log"
echo "ok"
