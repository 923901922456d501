#!/usr/bin/env bash
# The result workbook (--out-xlsx) of send and reconcile, opened with an independent reader
# (Debian's python3-openpyxl) and checked cell by cell against the input, the result CSV and
# the JSON report: input cells are text (leading zeros kept, long digit ids not turned into
# 9.17E+09, formula-like text stays text and no <f> element exists), the amount a number in
# major units with the currency's decimals, attempts a number, updated_at a date, frozen
# header and autofilter, the Totals and Findings sheets. A write that fails half-way (file
# size limit) leaves the path as it was and no temporary file.
set -euo pipefail
: "${PAYBATCH:?set by ctest}"
# Debian's interpreter: python3-openpyxl is installed for it (a pyenv python3 may lack it)
PY=${PB_PYTHON:-/usr/bin/python3}
T=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ -n "${PB_KEEP:-}" ] && echo "kept $T" >&2 || rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for f in "$T"/*.err; do [ -s "$f" ] && { echo "== $f" >&2; tail -15 "$f" >&2; }; done; exit 1; }
"$PY" -c 'import openpyxl' || fail "$PY cannot import openpyxl (Debian package python3-openpyxl)"
command -v unzip >/dev/null || fail "unzip is missing (Debian package unzip)"
export PAYBATCH_SECRET_KEY=xlsx-secret
unset PAYBATCH_CONFIG

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

CB=$(free_port)
"$PAYBATCH" sandbox --listen 127.0.0.1:0 --project-id 9 --ledger "$T/sbx.ledger" \
    --callback-url "http://127.0.0.1:$CB/cb" --callback-delay-ms 100 \
    --callback-retry-scale 0.001 --callback-max-attempts 5 >"$T/sbx.out" 2>"$T/sbx.err" &
PIDS+=($!)
for _ in $(seq 100); do grep -q "^listening on" "$T/sbx.out" 2>/dev/null && break; sleep 0.05; done
PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$T/sbx.out")
[ -n "$PORT" ] || fail "the sandbox did not start"

# Outcomes by account suffix (01 decline, 04 success then reversed, else success); account
# numbers and a customer id with leading zeros, a long digit id, formula-like text, an
# invalid row (below the method's minimum) and one with two findings.
"$PY" - "$T/in.csv" <<'PY'
import sys
rows = [
    ("gcash", "x-1", "150050", "PHP", "0012", "09170000001", "=SUM(A1)"),
    ("gcash", "x-2", "1600", "PHP", "9170000001234", "09170000005", "plain"),
    ("gcash", "x-3", "1700", "PHP", "c3", "09170000004", "+bonus"),
    ("touchngo", "x-4", "90005", "MYR", "c4", "601234569", "@home"),
    ("gcash", "x-5", "5", "PHP", "c5", "09170000009", "-refund"),
    ("touchngo", "x-6", "1000", "MYR", "c6", "601234579", "=HYPERLINK(\"http://x\")"),
    # --allow-conversion: other currencies, other decimals (JPY 0, KWD 3)
    ("touchngo", "x-7", "1500", "JPY", "c7", "601234589", "yen"),
    ("touchngo", "x-8", "1500", "KWD", "c8", "601234599", "dinar"),
]
with open(sys.argv[1], "w", encoding="utf-8", newline="") as f:
    f.write("method,payment_id,amount,currency,customer_id,ip_address,account_number,"
            "customer_name,description\n")
    for i, (m, p, a, c, cid, acct, d) in enumerate(rows):
        d = '"' + d.replace('"', '""') + '"'
        name = "Juan Cruz" if m == "gcash" else ""
        f.write(f"{m},{p},{a},{c},{cid},198.51.100.{i+1},{acct},{name},{d}\n")
PY

set +e
timeout 120 "$PAYBATCH" send --state "$T/a.db" --gate-url "http://127.0.0.1:$PORT" --project-id 9 \
    --skip-invalid --allow-conversion --callback-listen "127.0.0.1:$CB" --wait 60 --out "$T/a.csv" \
    --out-xlsx "$T/a.xlsx" --report "$T/a.json" "$T/in.csv" >"$T/send.out" 2>"$T/send.err"
rc=$?
set -e
[ $rc -eq 0 ] || fail "send --out-xlsx: exit $rc, want 0"
[ -s "$T/a.xlsx" ] || fail "send wrote no workbook"

check_workbook() { # XLSX: checked against the input, a.csv and a.json
    rm -rf "$T/unz" && mkdir "$T/unz" && (cd "$T/unz" && unzip -q "$1") || fail "$1 is not a zip"
    ! grep -l '<f>' "$T/unz/xl/worksheets/"*.xml || fail "$1 holds a formula"
    "$PY" - "$T/in.csv" "$T/a.csv" "$T/a.json" "$1" <<'PY' || fail "workbook $1 is wrong"
import csv, datetime, json, sys
from decimal import Decimal
import openpyxl

src = list(csv.reader(open(sys.argv[1], encoding="utf-8", newline="")))
res = list(csv.reader(open(sys.argv[2], encoding="utf-8", newline="")))
rep = json.load(open(sys.argv[3]))
wb = openpyxl.load_workbook(sys.argv[4])
assert wb.sheetnames == ["Result", "Totals", "Findings"], wb.sheetnames
exp = {"PHP": 2, "MYR": 2, "JPY": 0, "KWD": 3}
def major(minor, cur):
    return minor / 10 ** exp[cur]
cols = ["result", "gate_status", "code", "message", "request_id", "operation_id",
        "provider_payment_id", "attempts", "updated_at"]

ws = wb["Result"]
rows = list(ws.iter_rows())
n = len(src[0])
head = [c.value for c in rows[0]]
assert head == src[0] + ["amount_major_units"] + cols, head
assert len(rows) == len(src), (len(rows), len(src))
assert ws.freeze_panes == "A2", ws.freeze_panes
last = openpyxl.utils.get_column_letter(len(head))
assert ws.auto_filter.ref == f"A1:{last}{len(src)}", ws.auto_filter.ref
for s, r, cells in zip(src[1:], res[1:], rows[1:]):
    pid = s[1]
    # every input cell: the same text, a text cell (never a number, never a formula)
    for j in range(n):
        c = cells[j]
        if s[j] == "":
            assert c.value is None, (pid, j, c.value)
            continue
        assert c.data_type == "s" and isinstance(c.value, str), (pid, j, c.value, c.data_type)
        assert c.value == s[j], (pid, j, c.value, s[j])
    got = dict(zip(cols, cells[n + 1:]))
    want = dict(zip(cols, r[n:]))
    # the amount: a number in major units with the currency's decimals (valid rows)
    a = cells[n]
    if want["result"] == "invalid":
        assert a.value is None, (pid, a.value)
    else:
        e = exp[s[3]]
        assert a.data_type == "n", (pid, a.data_type)
        assert Decimal(repr(a.value)).quantize(Decimal(1).scaleb(-e)) == \
            Decimal(s[2]).scaleb(-e), (pid, a.value, s[2])
        assert a.number_format == ("#,##0." + "0" * e if e else "#,##0"), (pid, a.number_format)
    for k in ("result", "gate_status", "code", "message", "request_id", "operation_id",
              "provider_payment_id"):
        v = got[k].value
        assert (v or "") == want[k], (pid, k, v, want[k])
        assert v is None or got[k].data_type == "s", (pid, k, got[k].data_type)
    assert got["attempts"].data_type == "n" and got["attempts"].value == int(want["attempts"]), \
        (pid, got["attempts"].value)
    if want["updated_at"]:
        w = datetime.datetime.strptime(want["updated_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
        v = got["updated_at"].value
        assert isinstance(v, datetime.datetime), (pid, v)
        assert abs((v - w).total_seconds()) < 0.002, (pid, v, w)
        assert got["updated_at"].is_date, pid
    else:
        assert got["updated_at"].value is None, pid
by_pid = {row[1].value: row for row in rows[1:]}
assert by_pid["x-1"][4].value == "0012" and by_pid["x-1"][6].value == "09170000001"
assert by_pid["x-2"][4].value == "9170000001234"  # not 9.17E+12
assert by_pid["x-1"][8].value == "=SUM(A1)" and by_pid["x-1"][8].data_type == "s"
assert by_pid["x-1"][n].value == 1500.5
assert by_pid["x-7"][n].value == 1500 and by_pid["x-7"][n].number_format == "#,##0"
assert by_pid["x-8"][n].value == 1.5 and by_pid["x-8"][n].number_format == "#,##0.000"

# Totals: the report's result_totals per currency per result, beside its valid totals
ws = wb["Totals"]
t = [[c.value for c in row] for row in ws.iter_rows()]
assert t[0] == ["currency", "result", "rows", "amount", None, "currency", "valid_rows",
                "valid_amount"], t[0]
left = {(r[0], r[1]): (r[2], r[3]) for r in t[1:] if r[0] and r[0] != "(all)"}
want = {(cur, k): (v["rows"], major(v["amount_minor"], cur))
        for cur, per in rep["result_totals"].items() for k, v in per.items()}
assert left == want, (left, want)
allrows = {r[1]: r[2] for r in t[1:] if r[0] == "(all)"}
assert allrows == {k: v for k, v in rep["results"].items() if v}, (allrows, rep["results"])
right = {r[5]: (r[6], r[7]) for r in t[1:] if r[5]}
valid = {x["currency"]: (x["rows"], major(x["amount_minor"], x["currency"]))
         for x in rep["totals"]}
assert right == valid, (right, valid)

# Findings: one line per finding of each invalid row
ws = wb["Findings"]
f = [[c.value for c in row] for row in ws.iter_rows()]
assert f[0] == ["row", "payment_id", "finding"], f[0]
assert [6, "x-5", "amount-too-small"] in f[1:], f
assert ws.freeze_panes == "A2" and ws.auto_filter.ref == f"A1:C{len(f)}", ws.auto_filter.ref
PY
}
check_workbook "$T/a.xlsx"
echo "ok 1 send --out-xlsx: Result, Totals, Findings checked cell by cell"

# reconcile writes the same workbook from the store alone
set +e
timeout 60 "$PAYBATCH" reconcile --state "$T/a.db" --gate-url "http://127.0.0.1:$PORT" \
    --project-id 9 --out-xlsx "$T/b.xlsx" >"$T/rec.out" 2>"$T/rec.err"
rc=$?
set -e
[ $rc -eq 0 ] || fail "reconcile --out-xlsx: exit $rc"
check_workbook "$T/b.xlsx"
echo "ok 2 reconcile --out-xlsx: the same workbook"

# the same path twice, or the input as an output, is refused before anything is written
set +e
timeout 30 "$PAYBATCH" reconcile --state "$T/a.db" --out "$T/same" --out-xlsx "$T/same" \
    >"$T/same.out" 2>"$T/same.err"
rc=$?
set -e
[ $rc -eq 64 ] || fail "reconcile --out X --out-xlsx X: exit $rc, want 64"
[ ! -e "$T/same" ] || fail "a refused run wrote $T/same"
set +e
timeout 30 "$PAYBATCH" send --state "$T/c.db" --gate-url "http://127.0.0.1:$PORT" --project-id 9 \
    --skip-invalid --out-xlsx "$T/in.csv" "$T/in.csv" >"$T/in.out" 2>"$T/in.err"
rc=$?
set -e
[ $rc -eq 64 ] || fail "send --out-xlsx INPUT: exit $rc, want 64"
grep -q "is the input file" "$T/in.err" || fail "send --out-xlsx INPUT: no reason given"
echo "ok 3 an output on the input or on another output is refused"

# a write that fails half-way: a file size limit (SIGXFSZ ignored, so writes fail with EFBIG)
# far below the workbook's size; the old file stays, no temporary file is left
printf 'old workbook\n' >"$T/c.xlsx"
"$PY" - "$T/big.csv" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("method,payment_id,amount,currency,customer_id,ip_address,account_number,"
            "customer_name,description\n")
    f.write("gcash,ok-1,1500,PHP,c1,198.51.100.1,09170000005,Juan Cruz,fine\n")
    for i in range(4000):  # invalid rows (too small): in the store and the workbook, never sent
        f.write(f"gcash,bad-{i},5,PHP,c{i},198.51.100.1,0917{i:07d},Juan Cruz,{'padding ' * 8}\n")
PY
set +e
timeout 120 "$PAYBATCH" send --state "$T/big.db" --gate-url "http://127.0.0.1:$PORT" --project-id 9 \
    --skip-invalid --callback-listen "127.0.0.1:$CB" --wait 60 "$T/big.csv" \
    >"$T/big.out" 2>"$T/big.err"
rc=$?
set -e
[ $rc -eq 0 ] || fail "send big.csv: exit $rc"
set +e
(trap '' XFSZ; ulimit -f 96; exec timeout 60 "$PAYBATCH" reconcile --state "$T/big.db" \
    --out-xlsx "$T/c.xlsx") >"$T/lim.out" 2>"$T/lim.err"
rc=$?
set -e
[ $rc -eq 74 ] || fail "a workbook write over the size limit: exit $rc, want 74"
grep -q -- "--out-xlsx" "$T/lim.err" || fail "the failed write names no option"
[ "$(cat "$T/c.xlsx")" = "old workbook" ] || fail "a failed write replaced the old file"
ls "$T" | grep -q 'c\.xlsx\.tmp' && fail "a failed write left a temporary file: $(ls "$T")"
# without the limit the same command writes it
timeout 60 "$PAYBATCH" reconcile --state "$T/big.db" --out-xlsx "$T/c.xlsx" >"$T/big2.out" 2>"$T/big2.err" ||
    fail "reconcile big: exit $?"
"$PY" -c 'import openpyxl,sys; ws=openpyxl.load_workbook(sys.argv[1])["Result"]; assert ws.max_row == 4002, ws.max_row' "$T/c.xlsx" ||
    fail "the big workbook is wrong"
echo "ok 4 a failed write leaves the old file and no temporary file"
echo "result_xlsx: all checks passed"
