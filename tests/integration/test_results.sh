#!/usr/bin/env bash
# Results end to end: send with the callback receiver and --wait, reconcile by polling when
# callbacks are dropped, and the result CSV checked cell by cell (input order, original cells,
# formula cells prefixed, the input's delimiter and BOM, codes of declines and refusals), and
# the report's sums per state against the input's totals.
set -euo pipefail
: "${PB_SOURCE_DIR:?set by ctest}"
. "$PB_SOURCE_DIR/tests/integration/lib.sh"
export PAYBATCH_SECRET_KEY=results-secret

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_sandbox() { # NAME CALLBACK_PORT [options...]
    local name=$1 cbp=$2; shift 2
    "$PAYBATCH" sandbox --listen 127.0.0.1:0 --project-id 9 --ledger "$T/$name.ledger" \
        --callback-url "http://127.0.0.1:$cbp/cb" --callback-delay-ms 100 \
        --callback-retry-scale 0.001 --callback-max-attempts 5 "$@" \
        >"$T/$name.out" 2>"$T/$name.err" &
    PIDS+=($!)
    for _ in $(seq 100); do grep -q "^listening on" "$T/$name.out" 2>/dev/null && break; sleep 0.05; done
    PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$T/$name.out")
    [ -n "$PORT" ] || fail "sandbox $name did not start"
}

# A semicolon file with a BOM: scripted outcomes by account suffix (01 decline 20101, 02
# decline 20102, 03 success after 3 polls, 04 success then reversed, else success),
# formula-like descriptions, and one invalid row (amount below the method's minimum).
python3 - "$T/in.csv" <<'PY'
import sys
rows = [
    ("gcash", "r-1", "1500", "PHP", "09170000001", "Juan Cruz", "=SUM(A1)"),
    ("gcash", "r-2", "1600", "PHP", "09170000002", "Maria Santos", "plain"),
    ("gcash", "r-3", "1700", "PHP", "09170000003", "Jose Rizal", "+bonus"),
    ("gcash", "r-4", "1800", "PHP", "09170000004", "Ana Reyes", "-refund"),
    ("touchngo", "r-5", "900", "MYR", "601234569", "", "@home"),
    ("gcash", "r-6", "5", "PHP", "09170000009", "Too Small", "x"),
    ("touchngo", "r-7", "1000", "MYR", "601234579", "", "tab\there"),
]
with open(sys.argv[1], "w", encoding="utf-8", newline="") as f:
    f.write("\ufeffmethod;payment_id;amount;currency;customer_id;ip_address;account_number;customer_name;description\r\n")
    for i, (m, p, a, c, acct, name, d) in enumerate(rows):
        f.write(f'{m};{p};{a};{c};c{i};198.51.100.{i+1};{acct};{name};"{d}"\r\n')
PY

check_result() { # RESULT_CSV: the expected result of every row
    python3 - "$T/in.csv" "$1" <<'PY' || fail "result CSV $1 is wrong"
import csv, sys
src = list(csv.reader(open(sys.argv[1], encoding="utf-8-sig", newline=""), delimiter=";"))
raw = open(sys.argv[2], "rb").read()
assert raw.startswith(b"\xef\xbb\xbf"), "the input's BOM is not kept"
out = list(csv.reader(open(sys.argv[2], encoding="utf-8-sig", newline=""), delimiter=";"))
cols = ["result", "gate_status", "code", "message", "request_id", "operation_id",
        "provider_payment_id", "attempts", "updated_at"]
assert out[0] == src[0] + cols, f"header {out[0]}"
assert len(out) == len(src), f"{len(out) - 1} result rows for {len(src) - 1} input rows"
want = {"r-1": ("decline", "20101"), "r-2": ("decline", "20102"), "r-3": ("success", "0"),
        "r-4": ("reversed", None), "r-5": ("success", "0"), "r-6": ("invalid", "amount-too-small"),
        "r-7": ("success", "0")}
for s, o in zip(src[1:], out[1:]):
    n = len(s)
    for a, b in zip(s, o[:n]):
        # cells a spreadsheet would run as a formula carry a ' in front; the rest verbatim
        if a[:1] in ("=", "+", "-", "@", "\t", "\r"):
            assert b == "'" + a, f"{s[1]}: {a!r} written as {b!r}"
        else:
            assert b == a, f"{s[1]}: {a!r} written as {b!r}"
    r = dict(zip(cols, o[n:]))
    res, code = want[s[1]]
    assert r["result"] == res, f"{s[1]}: result {r['result']}, want {res}"
    if code is not None:
        assert r["code"] == code, f"{s[1]}: code {r['code']}, want {code}"
    if res != "invalid":
        assert r["request_id"] and r["updated_at"].endswith("Z"), f"{s[1]}: {r}"
        assert r["attempts"] == "1", f"{s[1]}: attempts {r['attempts']}"
PY
}

# ---- 1. send with the receiver and --wait: every row final, exit 0 ----------------------
CB=$(free_port)
start_sandbox A "$CB"
set +e
timeout 120 "$PAYBATCH" send --state "$T/a.db" --gate-url "http://127.0.0.1:$PORT" --project-id 9 \
    --skip-invalid --callback-listen "127.0.0.1:$CB" --wait 60 --out "$T/a.csv" \
    --report "$T/a.json" "$T/in.csv" >"$T/a1.out" 2>"$T/a1.err"
rc=$?
set -e
[ $rc -eq 0 ] || fail "send --wait: exit $rc, want 0 (every row final)"
check_result "$T/a.csv"
python3 - "$T/a.json" "$T/a.csv" <<'PY' || fail "report totals do not reconcile"
import json, sys
d = json.load(open(sys.argv[1]))
# the valid rows' control totals (from the file) == the sums of what became of them (store)
valid = {t["currency"]: t for t in d["totals"]}
assert set(valid) == set(d["state_totals"]), (valid.keys(), d["state_totals"].keys())
for cur, per_state in d["state_totals"].items():
    sent = sum(v["amount_minor"] for k, v in per_state.items() if k != "invalid")
    rows = sum(v["rows"] for k, v in per_state.items() if k != "invalid")
    assert sent == valid[cur]["amount_minor"], f"{cur}: results {sent} != input {valid[cur]}"
    assert rows == valid[cur]["rows"], f"{cur}: {rows} rows != input {valid[cur]}"
assert d["states"]["invalid"] == 1 and d["exit_code"] == 0, d["states"]
assert sum(d["states"].values()) == d["rows"]["total"], (d["states"], d["rows"])
# per result, as the result CSV's `result` column says: the same reconciliation, and the
# counts are the CSV's own
assert set(valid) == set(d["result_totals"]), (valid.keys(), d["result_totals"].keys())
for cur, per in d["result_totals"].items():
    paid = sum(v["amount_minor"] for k, v in per.items() if k != "invalid")
    rows = sum(v["rows"] for k, v in per.items() if k != "invalid")
    assert paid == valid[cur]["amount_minor"] and rows == valid[cur]["rows"], (cur, per, valid[cur])
import csv, collections
with open(sys.argv[2], newline="", encoding="utf-8-sig") as f:
    text = f.read()
delim = ";" if text.split("\n", 1)[0].count(";") > text.split("\n", 1)[0].count(",") else ","
col = collections.Counter(r["result"] for r in csv.DictReader(text.splitlines(), delimiter=delim))
assert {k: v for k, v in d["results"].items() if v} == dict(col), (d["results"], col)
PY
# the same command again: every row is final, so the wait has nothing to wait for and ends at
# once (it used to sit out the callbacks' 5 s head start first)
t0=$(date +%s%N)
set +e
timeout 120 "$PAYBATCH" send --state "$T/a.db" --gate-url "http://127.0.0.1:$PORT" --project-id 9 \
    --skip-invalid --callback-listen "127.0.0.1:$CB" --wait 60 "$T/in.csv" >"$T/a2.out" 2>"$T/a2.err"
rc=$?
set -e
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ $rc -eq 0 ] || fail "send --wait again: exit $rc, want 0"
[ -n "${PB_TIMING_LOOSE:-}" ] || [ $ms -lt 4000 ] || fail "send --wait on a settled batch took $ms ms"
echo "ok 1 send --callback-listen --wait: every row final, result CSV and report; again: ${ms} ms"

# ---- 2. callbacks dropped: reconcile settles the rows by polling -------------------------
CB2=$(free_port)
start_sandbox B "$CB2" --callback-drop 1
set +e
timeout 60 "$PAYBATCH" send --state "$T/b.db" --gate-url "http://127.0.0.1:$PORT" --project-id 9 \
    --skip-invalid "$T/in.csv" >"$T/b1.out" 2>"$T/b1.err"
rc=$?
set -e
[ $rc -eq 75 ] || fail "send without --wait: exit $rc, want 75"
for i in $(seq 10); do
    set +e
    timeout 60 "$PAYBATCH" reconcile --state "$T/b.db" --gate-url "http://127.0.0.1:$PORT" \
        --project-id 9 --out "$T/b.csv" >"$T/b2.out" 2>"$T/b2.err"
    rc=$?
    set -e
    [ $rc -eq 0 ] && break
    [ $rc -eq 75 ] || fail "reconcile: exit $rc"
    sleep 0.3
done
[ $rc -eq 0 ] || fail "reconcile never settled every row"
check_result "$T/b.csv"
echo "ok 2 callbacks dropped: reconcile settles every row by polling ($i runs)"
echo "results: all checks passed"
