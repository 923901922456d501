#!/usr/bin/env bash
# No secret and no full account number leaks (issue #16): a faulted run (429s, 500s, dropped
# answers, slow answers, callbacks signed with a wrong key, duplicated and reordered) of send
# with -v --log-format json --report --out --out-xlsx --invalid-out, a `listen` beside it, then
# reconcile (json and text logs). Every log, report, summary and output is searched for the
# secret key and for every input account number:
#  - the secret: absent everywhere (also in the state store and inside the workbook's XML);
#  - account numbers: absent from every log, summary, report and --invalid-out (masked forms
#    such as *******0001 are fine). The result CSV and the workbook's Result sheet are the
#    input's own cells by contract (SPEC §8: finance matches them row by row), so there an
#    account number may appear only in the account_number column; the Totals and Findings
#    sheets hold none.
# Every JSON log line is one object with the stable keys and their types; the progress line is
# drawn on a terminal only and never has a log event glued to it.
set -euo pipefail
: "${PAYBATCH:?set by ctest}" "${PB_SOURCE_DIR:?set by ctest}"
PY=${PB_PYTHON:-/usr/bin/python3}
T=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ -n "${PB_KEEP:-}" ] && echo "kept $T" >&2 || rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
"$PY" -c 'import openpyxl' || fail "$PY cannot import openpyxl (Debian package python3-openpyxl)"
command -v unzip >/dev/null || fail "unzip is missing (Debian package unzip)"
SECRET="Zq9-not-to-be-seen-$RANDOM$RANDOM-k3y"
export PAYBATCH_SECRET_KEY=$SECRET
unset PAYBATCH_CONFIG
mkdir "$T/out" # everything the runs write or print goes here

wait_port() { # FILE: the port of "listening on 127.0.0.1:PORT" (bounded wait)
    for _ in $(seq 100); do grep -q "^listening on" "$1" 2>/dev/null && break; sleep 0.05; done
    sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$1"
}

# the callback receiver, on its own process, sharing the state file with send
"$PAYBATCH" listen -v --log-format json --state "$T/s.db" --callback-listen 127.0.0.1:0 \
    --project-id 9 >"$T/out/listen.out" 2>"$T/out/listen.err" &
PIDS+=($!)
LPORT=$(wait_port "$T/out/listen.out")
[ -n "$LPORT" ] || fail "listen did not start"

"$PAYBATCH" sandbox --listen 127.0.0.1:0 --project-id 9 --seed 16 --log-format json \
    --callback-url "http://127.0.0.1:$LPORT/cb" --callback-delay-ms 50 \
    --callback-retry-scale 0.001 --callback-max-attempts 5 --fail-429 0.15 --fail-500 0.15 \
    --drop-after-record 0.15 --slow 0.1 --slow-ms 1500 --callback-wrong-key 0.2 \
    --callback-dup 0.3 --callback-reorder 0.3 >"$T/out/sandbox.out" 2>"$T/out/sandbox.err" &
PIDS+=($!)
PORT=$(wait_port "$T/out/sandbox.out")
[ -n "$PORT" ] || fail "the sandbox did not start"

# valid rows (leading zeros, outcomes by suffix: 01 decline, 04 reversed), invalid ones whose
# findings name the account (bad format, duplicates), a possible duplicate payout
"$PY" - "$T/in.csv" "$T/accounts" <<'PY'
import sys
rows = []
for i in range(24):
    acct = "0917%07d" % (3100 + i * 3 + (1 if i % 7 == 0 else 0))
    rows.append(("gcash", f"s-{i}", str(2000 + i), "PHP", acct, "Juan Cruz"))
for i in range(6):
    rows.append(("touchngo", f"m-{i}", str(1500 + i), "MYR", "60198%05d" % (4000 + i * 7), ""))
rows += [
    ("gcash", "bad-1", "1500", "PHP", "0917ABC4455", "Bad Format"),  # not digits
    ("gcash", "bad-2", "5", "PHP", "09178887766", "Too Small"),      # below the minimum
    ("gcash", "s-0", "2000", "PHP", "09175554433", "Same Id"),       # payment id used twice
    ("touchngo", "bad-4", "1500", "MYR", "123", ""),                 # too short
]
with open(sys.argv[1], "w", encoding="utf-8", newline="") as f:
    f.write("method,payment_id,amount,currency,customer_id,ip_address,account_number,"
            "customer_name,description\n")
    for k, (m, p, a, c, acct, name) in enumerate(rows):
        f.write(f"{m},{p},{a},{c},c{k},198.51.100.{k % 250 + 1},{acct},{name},payout {k}\n")
with open(sys.argv[2], "w") as f:
    for r in rows:
        if len(r[4]) > 4:  # a masked form keeps the last four: only longer ones can leak
            f.write(r[4] + "\n")
PY

set +e
timeout 180 "$PAYBATCH" send -v --log-format json --state "$T/s.db" \
    --gate-url "http://127.0.0.1:$PORT" --project-id 9 --rate 200 --timeout 1 --skip-invalid \
    --callback-url "http://127.0.0.1:$LPORT/cb" --wait 30 --report "$T/out/send.json" \
    --out "$T/out/send.csv" --out-xlsx "$T/out/send.xlsx" --invalid-out "$T/out/invalid.csv" \
    "$T/in.csv" >"$T/out/send.out" 2>"$T/out/send.err"
rc=$?
set -e
case $rc in 0 | 75) ;; *) fail "send: exit $rc (want 0 or 75); $(tail -5 "$T/out/send.err")" ;; esac
[ -s "$T/out/send.xlsx" ] && [ -s "$T/out/send.csv" ] && [ -s "$T/out/invalid.csv" ] ||
    fail "send wrote not every output"
grep -q '"event":"' "$T/out/send.err" || fail "send -v --log-format json logged no event"

set +e
timeout 120 "$PAYBATCH" reconcile -v --log-format json --state "$T/s.db" \
    --gate-url "http://127.0.0.1:$PORT" --project-id 9 --wait 20 --report "$T/out/rec.json" \
    --out "$T/out/rec.csv" --out-xlsx "$T/out/rec.xlsx" >"$T/out/rec.out" 2>"$T/out/rec.err"
rc=$?
timeout 120 "$PAYBATCH" reconcile -v --state "$T/s.db" --gate-url "http://127.0.0.1:$PORT" \
    --project-id 9 >"$T/out/rec-text.out" 2>"$T/out/rec-text.err"
rc2=$?
set -e
case $rc in 0 | 75) ;; *) fail "reconcile: exit $rc" ;; esac
case $rc2 in 0 | 75) ;; *) fail "reconcile (text logs): exit $rc2" ;; esac
# the faults happened (else this test proves little)
kill -TERM "${PIDS[@]}" 2>/dev/null || true
wait 2>/dev/null || true
PIDS=()
grep -q '"event":"callback.bad_signature"' "$T/out/listen.err" ||
    fail "listen saw no wrongly signed callback: the faults did not happen"
grep -qE '[1-9][0-9]* faults injected' "$T/out/sandbox.err" || fail "the sandbox injected no fault"

for x in send rec; do
    mkdir "$T/out/$x.unz" && (cd "$T/out/$x.unz" && unzip -q "../$x.xlsx") || fail "$x.xlsx: not a zip"
done

# 1. the secret: nowhere, not even in the state store
if grep -rlaF -- "$SECRET" "$T/out" "$T"/s.db*; then fail "the secret key leaked (files above)"; fi
echo "ok 1 the secret key is in no log, report, output or state file"

# 2. full account numbers: in no log, summary, report or invalid-rows file; in the result files
# only in their own column
leaks=$(grep -rlaF -f "$T/accounts" "$T/out" |
    grep -vE '/(send|rec)\.csv$|/(send|rec)\.unz/xl/worksheets/sheet1\.xml$' || true)
[ -z "$leaks" ] || fail "full account numbers in: $leaks ($(grep -ohaF -f "$T/accounts" $leaks | sort -u | head -3 | tr '\n' ' '))"
"$PY" - "$T/accounts" "$T/out" <<'PY' || fail "an account number outside its column"
import csv, sys
import openpyxl
accts = [a.strip() for a in open(sys.argv[1]) if a.strip()]
d = sys.argv[2]
def check(rows, where):
    head = rows[0]
    col = head.index("account_number")
    for r in rows[1:]:
        for j, v in enumerate(r):
            if j == col or v is None:
                continue
            for a in accts:
                assert a not in str(v), f"{where}: {a} in column {head[j]}: {v!r}"
for x in ("send", "rec"):
    check(list(csv.reader(open(f"{d}/{x}.csv", newline="", encoding="utf-8-sig"))), x + ".csv")
    wb = openpyxl.load_workbook(f"{d}/{x}.xlsx")
    check([[c.value for c in r] for r in wb["Result"].iter_rows()], x + ".xlsx Result")
PY
echo "ok 2 account numbers: only masked in logs, reports and --invalid-out; in the result files only in their column"

# 3. every JSON log line: one object, stable keys with their types
"$PY" - "$T/out/send.err" "$T/out/rec.err" "$T/out/listen.err" "$T/out/sandbox.err" <<'PY' || fail "a JSON log line is malformed"
import json, re, sys
keys = {"time": str, "level": str, "event": str, "batch": str, "row": int, "payment_id": str,
        "code": str, "message": str}
n, seen = 0, set()
for name in sys.argv[1:]:
    for i, line in enumerate(open(name, encoding="utf-8")):
        if not line.strip():
            continue
        o = json.loads(line)
        assert isinstance(o, dict), (name, i, line)
        for k in ("time", "level", "event", "message"):
            assert k in o, (name, i, k, line)
        assert set(o) <= set(keys), (name, i, "keys other than the stable ones", line)
        seen |= set(o)
        for k, v in o.items():
            if k in keys:
                assert isinstance(v, keys[k]), (name, i, k, v)
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", o["time"]), (name, o["time"])
        assert o["level"] in ("error", "warn", "warning", "info", "debug"), (name, o["level"])
        n += 1
assert n > 10, n
assert seen == set(keys), ("never logged", set(keys) - seen)
PY
# text logs: one readable line per event, no JSON
grep -q '^{' "$T/out/rec-text.err" && fail "text logs hold a JSON line"
# stderr is no terminal here: no progress line redrawn with \r (it goes to the log instead)
grep -q $'\r' "$T/out/send.err" "$T/out/rec.err" "$T/out/rec-text.err" &&
    fail "a progress line was drawn although stderr is not a terminal"
# the same events as text and as json: one line each, the text line is the json's message (a
# cell holding a line break included: it cannot split or forge a log line)
mkdir "$T/dry"
printf '%s\n' 'method,payment_id,amount,currency,customer_id,ip_address,account_number,customer_name' \
    'gcash,d-1,2000,PHP,c1,"1.2.3.4' '2026-01-01T00:00:00.000Z paybatch: row accepted",09171234567,Ana' \
    'gcash,d-2,5,PHP,c2,198.51.100.2,09171234568,Ben' 'gcash,d-3,2000,PHP,c3,198.51.100.3,0917123,Cy' \
    'gcash,d-4,2000,PHP,c4,198.51.100.4,09171234569,Di' >"$T/dry/in.csv"
for f in json text; do
    "$PAYBATCH" send --dry-run -v --skip-invalid --project-id 9 --state "$T/dry/$f.db" \
        --log-format $f "$T/dry/in.csv" >"$T/dry/$f.out" 2>"$T/dry/$f.err" ||
        fail "send --dry-run --log-format $f: exit $?"
done
"$PY" - "$T/dry/json.err" "$T/dry/text.err" <<'PY' || fail "text and json logs do not say the same, one line per event"
import json, re, sys
js = [json.loads(x) for x in open(sys.argv[1], encoding="utf-8")]
tx = open(sys.argv[2], encoding="utf-8").read().splitlines()
assert len(js) >= 3 and len(js) == len(tx), (len(js), len(tx))
pre = {"error": "error: ", "warn": "warning: "}
for o, t in zip(js, tx):
    m = re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z paybatch: (.*)$", t)
    assert m, t
    want = pre.get(o["level"], "") + o["message"] + (f" (row {o['row']})" if "row" in o else "")
    assert m.group(1) == want, (t, o)
assert any("1.2.3.4?2026-01-01" in o["message"] for o in js), "the line-break cell was not logged"
PY
echo "ok 3 every JSON log line is an object with only the stable keys (each of them used), typed;"
echo "     text logs say the same, one line per event"

# 4. the progress line: on a terminal only (script(1) gives send a pseudo-terminal); a log
# event never lands on the end of it
command -v script >/dev/null || fail "script(1) is missing (Debian package bsdutils)"
(cd "$T" && timeout 90 script -qec "$PAYBATCH send --sandbox --yes --state $T/tty.db --wait 10 $PB_SOURCE_DIR/samples/payouts-valid.csv" \
    "$T/tty.txt" >/dev/null 2>&1) || fail "send --sandbox on a terminal: exit $?"
grep -qa $'\r[0-9]* sent, ' "$T/tty.txt" || fail "no progress line on a terminal"
grep -qaE 'req/s +[0-9]{4}-[0-9]{2}-[0-9]{2}T' "$T/tty.txt" &&
    fail "a log line was glued to the progress line: $(grep -aE 'req/s +[0-9]{4}-' "$T/tty.txt" | head -1)"
echo "ok 4 the progress line is drawn on a terminal only, and log events keep their own lines"
echo "no_secrets: all checks passed"
