#!/usr/bin/env bash
# `paybatch send` when the disk fills during the run: the state store's writes start failing
# mid-dispatch (a file size limit: SQLite's WAL cannot grow; SIGXFSZ ignored, so write() fails
# with EFBIG as it would with ENOSPC). The run stops with exit 74 and a line saying what to do;
# the next run, with room again, picks up where it stopped: every row paid exactly once,
# none left sending or in doubt.
set -euo pipefail
: "${PB_SOURCE_DIR:?set by ctest}"
. "$PB_SOURCE_DIR/tests/integration/lib.sh"
export PAYBATCH_SECRET_KEY=disk-full-secret
start_sandbox sb 77
PORT=$PORT_sb

python3 - "$T/in.csv" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("method,payment_id,amount,currency,customer_id,ip_address,account_number,customer_name\n")
    for i in range(1000):
        if i % 2:
            f.write(f"gcash,df-{i},{1000 + i},PHP,c{i},198.51.100.{i % 250 + 1},09{i:08d}9,Juan Cruz\n")
        else:
            f.write(f"touchngo,df-{i},{500 + i},MYR,c{i},203.0.113.{i % 250 + 1},6012{i:06d}9,\n")
PY
run() { # run NAME [wrapper...]: exit status in RC
    local name=$1; shift
    set +e
    timeout 120 "$@" "$PAYBATCH" send --state "$T/s.db" --gate-url "http://127.0.0.1:$PORT" \
        --project-id 77 --rate 100000 --concurrency 16 --yes "$T/in.csv" >"$T/$name.out" 2>"$T/$name.err"
    RC=$?
    set -e
}
lines() { [ -f "$T/sb.ledger" ] && wc -l <"$T/sb.ledger" || echo 0; }

# 1 MiB per file (bash counts ulimit -f in KiB): the rows fit (the finished store is 440 KiB),
# the WAL of the dispatch does not (2 MiB did until schema 3 made a state change write fewer
# pages: 1000 rows then fit)
run full bash -c 'trap "" XFSZ; ulimit -f 1024; exec "$@"' limited
[ "$RC" -eq 74 ] || fail "disk full: exit $RC, want 74"
grep -q "state store could not be written" "$T/full.out" || fail "disk full: no line saying what to do"
n=$(lines)
[ "$n" -gt 0 ] && [ "$n" -lt 1000 ] || fail "the limit did not bite mid-run ($n of 1000 paid)"
echo "ok 1 the disk fills mid-run: exit 74 after $n of 1000 payouts"

for i in 1 2 3; do
    run resume$i
    [ "$RC" -eq 0 ] || [ "$RC" -eq 75 ] || fail "resume: exit $RC, want 0 or 75"
    grep -qE "rows: 1000, (accepted|success|decline)" "$T/resume$i.out" && ! grep -qE "queued|sending|in_doubt" <(sed -n '/^rows:/p' "$T/resume$i.out") && break
done
sed -n '/^rows:/p' "$T/resume$i.out" | grep -qE "queued|sending|in_doubt" && fail "rows still open after 3 resumes"
python3 - "$T/sb.ledger" "$T/in.csv" <<'PY' || fail "ledger"
import csv, json, sys, collections
led = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ids = collections.Counter(l["payment_id"] for l in led)
dup = [k for k, v in ids.items() if v > 1]
assert not dup, f"paid twice: {dup[:5]}"
want = {r["payment_id"]: int(r["amount"]) for r in csv.DictReader(open(sys.argv[2]))}
got = {l["payment_id"]: l["amount"] for l in led}
assert got == want, f"missing {sorted(set(want)-set(got))[:5]}"
PY
echo "ok 2 resumed with room again: every row paid exactly once, none open ($i run(s))"
