#!/usr/bin/env bash
# Guard-rails before money moves (issue #14), the real binary against the sandbox on loopback:
# policy limits at, below and above their figures; control totals (options and --control file)
# matching, off by one minor unit, off by one row; config keys. Every refusal sends nothing
# (the sandbox ledger stays empty) and exits 65.
set -euo pipefail
: "${PB_SOURCE_DIR:?set by ctest}"
. "$PB_SOURCE_DIR/tests/integration/lib.sh"
export PAYBATCH_SECRET_KEY=guard-test-secret
cd "$T"

start_sandbox sbx 77
PORT=$PORT_sbx
GATE=(--gate-url "http://127.0.0.1:$PORT" --project-id 77)

# 2 PHP rows (1500.00 + 1000.00 = 2500.00) and 1 MYR row (50.00)
cat >"$T/f.csv" <<'CSV'
method,payment_id,amount,currency,customer_id,ip_address,account_number,customer_name
gcash,g-1,150000,PHP,c1,198.51.100.7,09171234567,Juan Cruz
gcash,g-2,100000,PHP,c2,198.51.100.8,09171234568,Juan Cruz
touchngo,g-3,5000,MYR,c3,198.51.100.9,601234567,
CSV

# refused NAME ARGS...: exit 65, nothing in the ledger, the output has "refused:"
refused() {
    local n=$1; shift
    set +e
    "$PAYBATCH" send --state "$T/s.db" "${GATE[@]}" "$@" "$T/f.csv" >"$T/$n.out" 2>"$T/$n.err"
    local rc=$?
    set -e
    [ $rc -eq 65 ] || fail "$n ($*): exit $rc, want 65"
    grep -q "^refused: " "$T/$n.out" || fail "$n: no 'refused:' line"
    grep -q "nothing was sent" "$T/$n.out" || fail "$n: no 'nothing was sent'"
    [ ! -s "$T/sbx.ledger" ] || fail "$n: something was sent"
}
# passes NAME ARGS...: the checks let it through (--dry-run: nothing is sent either way)
passes() {
    local n=$1; shift
    set +e
    "$PAYBATCH" send --dry-run --state "$T/s.db" "${GATE[@]}" "$@" "$T/f.csv" >"$T/$n.out" 2>"$T/$n.err"
    local rc=$?
    set -e
    [ $rc -eq 0 ] || fail "$n ($*): exit $rc, want 0"
    ! grep -q "^refused: " "$T/$n.out" || fail "$n: refused"
}

# ---- 1. --max-total: at, below, above by one minor unit; another currency's limit --------
passes t-at --max-total PHP:2500.00
passes t-below --max-total PHP:2500.01
refused t-above --max-total PHP:2499.99
grep -q "refused: --max-total PHP:2499.99: the PHP rows to send total 2500.00 (2 rows: 2, 3)" "$T/t-above.out" ||
    fail "max-total message: $(cat "$T/t-above.out")"
passes t-other --max-total MYR:50.00,PHP:9999
refused t-two --max-total MYR:49.99 --max-total PHP:9999
echo "ok 1 --max-total"

# ---- 2. --max-rows -------------------------------------------------------------------
passes r-at --max-rows 3
passes r-below --max-rows 4
refused r-above --max-rows 2
grep -q "refused: --max-rows 2: 3 rows to send (3 rows: 2, 3, 4)" "$T/r-above.out" || fail "max-rows message"
echo "ok 2 --max-rows"

# ---- 3. --max-amount ------------------------------------------------------------------
passes a-at --max-amount PHP:1500.00
passes a-below --max-amount PHP:1500.01
refused a-above --max-amount PHP:1499.99
grep -q "refused: --max-amount PHP:1499.99: 1 PHP row over it (the largest 1500.00) (row 2)" "$T/a-above.out" ||
    fail "max-amount message"
echo "ok 3 --max-amount"

# ---- 4. control totals: options ------------------------------------------------------------
passes c-match --expect-rows 3 --expect-total PHP:2500.00 --expect-total MYR:50.00
refused c-cent --expect-rows 3 --expect-total PHP:2500.01 --expect-total MYR:50.00
grep -q "control total PHP: expected 2500.01, found 2500.00" "$T/c-cent.out" || fail "expected/found"
refused c-cent-low --expect-total PHP:2499.99,MYR:50.00
refused c-row-more --expect-rows 4
grep -q "control rows: expected 4, found 3" "$T/c-row-more.out" || fail "rows expected/found"
refused c-row-less --expect-rows 2
refused c-missing-cur --expect-total PHP:2500.00 # MYR is in the file but not expected
echo "ok 4 control totals (options)"

# ---- 5. control totals: the --control sidecar file ----------------------------------------
printf '# from the exporter\nrows = 3\ntotal = PHP:2500.00\ntotal = MYR:50.00\n' >"$T/ok.ctl"
passes f-match --control "$T/ok.ctl"
printf 'rows = 3\ntotal = PHP:2500.00\ntotal = MYR:50.01\n' >"$T/cent.ctl"
refused f-cent --control "$T/cent.ctl"
printf 'rows = 4\n' >"$T/row.ctl"
refused f-row --control "$T/row.ctl"
printf 'rows = 3\ntotal = PHP:2,500.00\n' >"$T/bad.ctl"
set +e
"$PAYBATCH" send --state "$T/s.db" "${GATE[@]}" --control "$T/bad.ctl" "$T/f.csv" >"$T/f-bad.out" 2>"$T/f-bad.err"
rc=$?
"$PAYBATCH" send --state "$T/s.db" "${GATE[@]}" --control "$T/none.ctl" "$T/f.csv" >"$T/f-none.out" 2>"$T/f-none.err"
rc2=$?
"$PAYBATCH" send --state "$T/s.db" "${GATE[@]}" --control "$T/ok.ctl" --expect-rows 3 "$T/f.csv" >"$T/f-both.out" 2>"$T/f-both.err"
rc3=$?
set -e
[ $rc -eq 65 ] || fail "malformed control file: exit $rc, want 65"
grep -q "line 2: 'PHP:2,500.00': the amount" "$T/f-bad.err" || fail "control file message: $(cat "$T/f-bad.err")"
[ $rc2 -eq 66 ] || fail "missing control file: exit $rc2, want 66"
[ $rc3 -eq 64 ] || fail "--control with --expect-rows: exit $rc3, want 64"
[ ! -s "$T/sbx.ledger" ] || fail "something was sent"
echo "ok 5 --control file"

# ---- 6. config keys and environment; bad values --------------------------------------------
printf 'max_total = PHP:2000.00\nmax_rows = 10\n' >"$T/p.conf"
refused k-conf --config "$T/p.conf"
passes k-argv-wins --config "$T/p.conf" --max-total PHP:2500
PAYBATCH_MAX_AMOUNT=PHP:100 refused k-env
set +e
"$PAYBATCH" send --state "$T/s.db" "${GATE[@]}" --max-total PHP2500 "$T/f.csv" >"$T/k-bad.out" 2>"$T/k-bad.err"
rc=$?
printf 'max_total = PHP:1.001\n' >"$T/bad.conf"
"$PAYBATCH" send --state "$T/s.db" "${GATE[@]}" --config "$T/bad.conf" "$T/f.csv" >"$T/k-badconf.out" 2>"$T/k-badconf.err"
rc2=$?
set -e
[ $rc -eq 64 ] || fail "bad --max-total: exit $rc, want 64"
grep -q "use CUR:AMOUNT" "$T/k-bad.err" || fail "bad --max-total message"
[ $rc2 -eq 78 ] || fail "bad max_total in the config: exit $rc2, want 78"
echo "ok 6 config keys, environment, bad values"

# ---- 7. within every limit: sent, exactly once ------------------------------------------
set +e
"$PAYBATCH" send --state "$T/s.db" "${GATE[@]}" --max-total PHP:2500,MYR:50 --max-rows 3 \
    --max-amount PHP:1500 --control "$T/ok.ctl" --report "$T/r.json" "$T/f.csv" >"$T/go.out" 2>"$T/go.err"
rc=$?
set -e
[ $rc -eq 0 ] || [ $rc -eq 75 ] || fail "within the limits: exit $rc"
[ "$(wc -l <"$T/sbx.ledger")" -eq 3 ] || fail "want 3 payouts in the ledger"
echo "ok 7 within the limits: sent"

# ---- 8. paid-recently: yesterday's file sent again with new payment ids ------------------
sed 's/,g-/,h-/' "$T/f.csv" >"$T/f2.csv"
sed 's/,g-/,k-/' "$T/f.csv" >"$T/f3.csv"
send2() { # NAME FILE ARGS...: sets rc
    local n=$1 f=$2; shift 2
    set +e
    "$PAYBATCH" send --state "$T/s.db" "${GATE[@]}" "$@" "$f" >"$T/$n.out" 2>"$T/$n.err"
    rc=$?
    set -e
}
send2 p-strict "$T/f2.csv" --strict-recent --report "$T/p.json"
[ $rc -eq 65 ] || fail "paid recently, --strict-recent: exit $rc, want 65"
grep -q "paid-recently: 3" "$T/p-strict.out" || fail "want 3 paid-recently findings"
grep -q "row 2, account_number: same method, account and amount .* in batch [0-9a-f]*, row 2 (payment id g-1)" "$T/p-strict.out" ||
    fail "paid-recently names the earlier batch and row: $(cat "$T/p-strict.out")"
python3 - "$T/p.json" <<'PY' || fail "report: paid-recently is not an error"
import json, sys
d = json.load(open(sys.argv[1]))
f = [x for x in d["findings"] if x["code"] == "paid-recently"]
assert len(f) == 3 and all(x["severity"] == "error" for x in f), f
PY
[ "$(wc -l <"$T/sbx.ledger")" -eq 3 ] || fail "sent although paid recently"
# strict through the config file
printf 'strict_recent = true\n' >"$T/strict.conf"
send2 p-conf "$T/f2.csv" --config "$T/strict.conf"
[ $rc -eq 65 ] || fail "strict_recent in the config: exit $rc, want 65"
# the first batch was paid 8 days ago: inside a 9-day window, outside the default 7 days
python3 - "$T/s.db" <<'PY'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE rows SET updated_at_ms = ? WHERE payment_id LIKE 'g-%'", (int(time.time() * 1000) - 8 * 86400000,))
db.commit()
PY
send2 p-inside "$T/f2.csv" --strict-recent --recent-days 9
[ $rc -eq 65 ] || fail "inside a 9-day window: exit $rc, want 65"
[ "$(wc -l <"$T/sbx.ledger")" -eq 3 ] || fail "sent although paid inside the window"
send2 p-outside "$T/f2.csv" --strict-recent -v
[ $rc -eq 0 ] || [ $rc -eq 75 ] || fail "outside the 7-day window: exit $rc"
! grep -q "paid-recently" "$T/p-outside.out" "$T/p-outside.err" || fail "paid-recently outside the window"
[ "$(wc -l <"$T/sbx.ledger")" -eq 6 ] || fail "want 6 payouts after the second batch"
# a warning by default: the third file is sent, with the findings naming the second batch
send2 p-warn "$T/f3.csv"
[ $rc -eq 0 ] || [ $rc -eq 75 ] || fail "paid-recently as a warning: exit $rc"
grep -q "Warnings:" "$T/p-warn.out" && grep -q "paid-recently: 3" "$T/p-warn.out" || fail "no warning"
grep -q "(payment id h-1)" "$T/p-warn.out" || fail "the warning names the second batch's row"
[ "$(wc -l <"$T/sbx.ledger")" -eq 9 ] || fail "want 9 payouts after the third batch"
# --recent-days 0: no check at all
sed 's/,g-/,m-/' "$T/f.csv" >"$T/f4.csv"
send2 p-off "$T/f4.csv" --recent-days 0 --strict-recent
[ $rc -eq 0 ] || [ $rc -eq 75 ] || fail "--recent-days 0: exit $rc"
echo "ok 8 paid-recently across batches, window, strict, config"
