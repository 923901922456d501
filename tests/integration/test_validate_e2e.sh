#!/usr/bin/env bash
# End to end: run the real `paybatch validate` on the samples and check exit codes, the JSON
# report field by field, the --invalid-out CSV, and that the sample files between them
# trigger every finding code.
set -euo pipefail
: "${PAYBATCH:?set by ctest}" "${PB_SOURCE_DIR:?set by ctest}"
S=$PB_SOURCE_DIR/samples
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

run() { # expected-exit args...
    local want=$1; shift
    set +e; "$PAYBATCH" "$@" >"$T/out" 2>"$T/err"; local got=$?; set -e
    [ "$got" -eq "$want" ] || { cat "$T/out" "$T/err" >&2; fail "paybatch $* exited $got, want $want"; }
}

# valid mixed file: exit 0, report complete
run 0 validate --report "$T/valid.json" "$S/payouts-valid.csv"
grep -q "result: OK: 6 rows ready to send" "$T/out" || fail "summary of the valid file"
python3 - "$T/valid.json" "$S/payouts-valid.csv" <<'PY'
import json, sys, hashlib
r = json.load(open(sys.argv[1]))
def eq(a, b, what):
    assert a == b, f"{what}: {a!r} != {b!r}"
eq(r["command"], "validate", "command")
eq(r["file"], sys.argv[2], "file")
eq(r["sha256"], hashlib.sha256(open(sys.argv[2], "rb").read()).hexdigest(), "sha256")
eq(r["delimiter"], ",", "delimiter")
eq(r["bom"], False, "bom")
eq(r["rows"], {"total": 6, "valid": 6, "invalid": 0, "with_warnings": 0, "blank_lines": 0}, "rows")
eq(r["findings"], [], "findings")
eq(r["findings_total"], 0, "findings_total")
eq(r["exit_code"], 0, "exit_code")
tot = {t["currency"]: t for t in r["totals"]}
eq(tot["PHP"], {"currency": "PHP", "rows": 3, "amount_minor": 10151000, "amount": "101510.00"}, "PHP")
eq(tot["MYR"], {"currency": "MYR", "rows": 3, "amount_minor": 2025550, "amount": "20255.50"}, "MYR")
eq(r["input_totals"], r["totals"], "input totals of a valid file")
PY

# invalid file: exit 65; every row-level finding with its row and column
run 65 validate --report "$T/inv.json" --invalid-out "$T/inv.csv" "$S/payouts-invalid.csv"
grep -q "result: INVALID: 17 rows must be fixed" "$T/out" || fail "summary of the invalid file"
grep -q "09171234567" "$T/out" && fail "an account number is printed unmasked"
python3 - "$T/inv.json" "$T/inv.csv" <<'PY'
import json, sys, csv
r = json.load(open(sys.argv[1]))
def eq(a, b, what):
    assert a == b, f"{what}: {a!r} != {b!r}"
eq(r["rows"], {"total": 20, "valid": 3, "invalid": 17, "with_warnings": 2, "blank_lines": 1}, "rows")
eq(r["exit_code"], 65, "exit_code")
eq(r["file_errors"], 0, "file_errors")
got = sorted((f["row"], f["code"], f.get("column")) for f in r["findings"])
want = sorted([
    (3, "duplicate-payment-id", "payment_id"),
    (4, "possible-duplicate-payout", "account_number"),
    (5, "missing-value", "amount"),
    (6, "bad-amount", "amount"),
    (7, "amount-has-decimals", "amount"),
    (8, "amount-too-small", "amount"),
    (9, "amount-too-large", "amount"),
    (10, "currency-mismatch", "currency"),
    (11, "unknown-method", "method"),
    (12, "bad-account-number", "account_number"),
    (13, "leading-zero-lost", "account_number"),
    (14, "scientific-notation", "account_number"),
    (15, "bad-ip", "ip_address"),
    (16, "bad-characters", "payment_id"),
    (17, "too-long", "description"),
    (18, "currency-mismatch", "currency"),
    (19, "formula-like", "customer_name"),
    (19, "possible-duplicate-payout", "account_number"),
    (20, "wrong-field-count", None),
    (22, "encoding", "customer_name"),
])
eq(got, want, "findings")
dup = [f for f in r["findings"] if f["code"] == "duplicate-payment-id"][0]
eq(dup["first_row"], 2, "duplicate names the first row")
assert "row 2" in dup["message"], dup["message"]
for f in r["findings"]:
    assert f["severity"] in ("error", "warning"), f
    assert len(f["message"]) > 30, f
    assert "09171234567" not in f["message"], f
eq(sum(r["findings_by_code"].values()), r["findings_total"], "by-code counts")
eq(r["totals"], [{"currency": "PHP", "rows": 3, "amount_minor": 450000, "amount": "4500.00"}], "totals")
rows = list(csv.reader(open(sys.argv[2], newline="", encoding="utf-8", errors="replace")))
eq(rows[0][0], "row", "invalid-out header")
eq(rows[0][-1], "findings", "invalid-out header")
eq([x[0] for x in rows[1:]], [str(n) for n in (3,5,6,7,8,9,10,11,12,13,14,15,16,17,18,20,22)], "invalid rows")
assert all("09171234567" not in c for row in rows for c in row), "account masked in invalid-out"
assert rows[1][-1].startswith("duplicate-payment-id: "), rows[1][-1]
PY

# the same file with --allow-conversion: the Touch'n Go USD row becomes a warning
run 65 validate --allow-conversion --report "$T/conv.json" "$S/payouts-invalid.csv"
python3 - "$T/conv.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
codes = {(f["row"], f["code"]) for f in r["findings"]}
assert (18, "converted-currency") in codes, codes
assert (18, "currency-mismatch") not in codes, codes
assert r["rows"]["invalid"] == 16, r["rows"]
PY

# amount_major file with ';' delimiter and aliases
run 65 validate --report "$T/major.json" "$S/payouts-invalid-major.csv"
python3 - "$T/major.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["delimiter"] == ";", r["delimiter"]
got = sorted((f["row"], f["code"]) for f in r["findings"])
assert got == [(2, "decimal-comma"), (3, "bad-amount"), (4, "bad-amount")], got
PY

# header problems: file-level findings, no row validated
run 65 validate --report "$T/hdr.json" "$S/payouts-bad-header.csv"
python3 - "$T/hdr.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
got = sorted((f["code"], f.get("column")) for f in r["findings"])
want = sorted([("duplicate-column", "Customer_ID"), ("unknown-column", "acount_number"),
               ("missing-column", "customer.ip_address"), ("missing-column", "account.number"),
               ("missing-column", "method"), ("two-amount-columns", "amount_major")])
assert got == want, got
assert all(f["row"] == 1 for f in r["findings"])
assert r["file_errors"] == 6 and r["rows"]["valid"] == 0
PY

# empty file: no-header, exit 65
run 65 validate --report "$T/empty.json" "$S/payouts-empty.csv"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert [f["code"] for f in r["findings"]]==["no-header"], r' "$T/empty.json"
printf '\xef\xbb\xbf\r\n\r\n' > "$T/bom-only.csv"
run 65 validate "$T/bom-only.csv"
grep -q "no-header" "$T/out" || fail "BOM-only file"

# every finding code is triggered by some sample (all but malformed-csv, tested next)
cat "$T"/inv.json "$T"/conv.json "$T"/major.json "$T"/hdr.json "$T"/empty.json > "$T/all.json"
printf 'a,"b"c\n' > "$T/badquote.csv"
run 65 validate --report "$T/q.json" "$T/badquote.csv"
for code in no-header duplicate-column unknown-column missing-column two-amount-columns encoding \
    wrong-field-count missing-value bad-amount amount-has-decimals decimal-comma amount-too-small \
    amount-too-large currency-mismatch converted-currency unknown-method bad-account-number \
    leading-zero-lost scientific-notation bad-ip duplicate-payment-id bad-characters too-long \
    possible-duplicate-payout formula-like; do
    grep -q "\"code\":\"$code\"" "$T/all.json" || fail "no sample triggers $code"
done
grep -q '"code":"malformed-csv"' "$T/q.json" || fail "malformed CSV"

# usage and input errors
run 64 validate
run 64 validate --method paypal "$S/payouts-valid.csv"
run 64 validate --delimiter x "$S/payouts-valid.csv"
run 66 validate "$T/does-not-exist.csv"
run 0 validate --help
grep -q -- "--invalid-out" "$T/out" || fail "validate --help"
run 0 --version
# an output file that cannot be written: exit 74 and nothing left half-written
run 74 validate --report "$T/no/such/dir/r.json" "$S/payouts-valid.csv"
# --method for files without a method column
printf 'payment_id,amount,currency,customer_id,ip_address,account_number,customer_name\np1,1000,PHP,c,1.2.3.4,09171234567,Ana\n' > "$T/nomethod.csv"
run 65 validate "$T/nomethod.csv"
run 0 validate --method gcash "$T/nomethod.csv"
# TAB delimiter, CRLF, BOM
printf '\xef\xbb\xbfmethod\tpayment_id\tamount\tcurrency\tcustomer_id\tip_address\taccount_number\r\ntouchngo\tt1\t500\tMYR\tc\t1.2.3.4\t123456\r\n' > "$T/tab.csv"
run 0 validate --report "$T/tab.json" "$T/tab.csv"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["delimiter"]=="\t" and r["bom"] and r["rows"]["valid"]==1, r' "$T/tab.json"
# a row whose cells are shifted still has its account number masked in --invalid-out
printf 'method,payment_id,amount,currency,customer_id,ip_address,account_number,customer_name\ngcash,p4,100000,PHP,c1,1.2.3.4,Ann,09171234569\n' > "$T/shift.csv"
run 65 validate --invalid-out "$T/shift.inv.csv" "$T/shift.csv"
grep -q 09171234569 "$T/shift.inv.csv" && fail "shifted account number printed unmasked"
grep -q '\*\*\*\*\*\*\*4569' "$T/shift.inv.csv" || fail "shifted account number not masked"
# outputs that are special files or links are written through, never replaced (#11.2)
run 65 validate --invalid-out /dev/null "$S/payouts-invalid.csv"
run 0 validate --report /dev/null "$S/payouts-valid.csv"
[ -c /dev/null ] || fail "/dev/null replaced"
echo old > "$T/real.json"; ln -s real.json "$T/link.json"
run 0 validate --report "$T/link.json" "$S/payouts-valid.csv"
[ -L "$T/link.json" ] || fail "a symlinked --report was replaced by a regular file"
grep -q '"exit_code":0' "$T/real.json" || fail "the symlink's target was not written"
mkfifo "$T/fifo"
( timeout 10 cat "$T/fifo" > "$T/fifo.out" ) &
run 0 validate --report "$T/fifo" "$S/payouts-valid.csv"
wait
[ -p "$T/fifo" ] || fail "a FIFO --report was replaced"
grep -q '"exit_code":0' "$T/fifo.out" || fail "nothing came through the FIFO"
( umask 022; "$PAYBATCH" validate --report "$T/mode.json" "$S/payouts-valid.csv" >/dev/null )
[ "$(stat -c %a "$T/mode.json")" = 644 ] || fail "a new report is not 0666 & ~umask"
# an output naming the input, or another output, is a usage error; nothing is touched (#11.1)
cp "$S/payouts-invalid.csv" "$T/in.csv"; sum0=$(sha256sum < "$T/in.csv")
ln "$T/in.csv" "$T/in-hard.csv"; ln -s in.csv "$T/in-soft.csv"
( cd "$T" && set +e; "$PAYBATCH" validate --report ./in.csv in.csv >/dev/null 2>&1; [ $? -eq 64 ] ) || fail "--report over the input (another spelling)"
run 64 validate --report "$T/in.csv" "$T/in.csv"
run 64 validate --invalid-out "$T/in.csv" "$T/in.csv"
run 64 validate --invalid-out "$T/in-hard.csv" "$T/in.csv"
run 64 validate --report "$T/in-soft.csv" "$T/in.csv"
run 64 validate --report "$T/same.out" --invalid-out "$T/../$(basename "$T")/same.out" "$T/in.csv"
grep -q "same file" "$T/err" || fail "the usage error does not say why"
[ "$(sha256sum < "$T/in.csv")" = "$sum0" ] || fail "the input file was changed"
[ -L "$T/in-soft.csv" ] || fail "the symlink to the input was replaced"
[ -e "$T/same.out" ] && fail "an output was written despite the usage error"
# endless input: a failed file is not read further; the report says what the hash covers (#11.5)
set +e; timeout 30 "$PAYBATCH" validate --report "$T/zero.json" /dev/zero >"$T/out" 2>"$T/err"; got=$?; set -e
[ $got -eq 65 ] || fail "validate /dev/zero exited $got (124: it never ends)"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["sha256_complete"] is False and r["bytes_read"]>0 and r["rest_unchecked"], r' "$T/zero.json"
# a too-long cell mid-file: the summary says the rest went unchecked (#11 also seen)
python3 - "$T/long.csv" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("method,payment_id,amount,currency,customer_id,ip_address,account_number\n")
    f.write("touchngo,t1,500,MYR,c,1.2.3.4,123456\n")
    f.write("touchngo,t2,500,MYR," + "c" * 70000 + ",1.2.3.4,123456\n")
    for i in range(3, 300000):
        f.write("touchngo,t%d,500,MYR,c,1.2.3.4,123456\n" % i)
PY
run 65 validate --report "$T/long.json" "$T/long.csv"
grep -q "rest of the file was not checked" "$T/out" || fail "a stop mid-file is not said in the summary"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["sha256_complete"] is False and r["stopped_at_row"]==3 and r["rest_unchecked"], r' "$T/long.json"
run 0 validate --report "$T/full.json" "$S/payouts-valid.csv"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["sha256_complete"] is True and "rest_unchecked" not in r, r' "$T/full.json"
# SIGINT/SIGTERM: the temporary files go, the exit status is the signal's (#11.7)
for sig in INT TERM; do
    rm -f "$T/sig.in"; mkfifo "$T/sig.in"
    # the input arrives slowly: the run is busy with its outputs open when the signal comes
    ( head -n 5 "$S/payouts-invalid.csv"; exec sleep 20 ) > "$T/sig.in" & feeder=$!
    "$PAYBATCH" validate --report "$T/sig.json" --invalid-out "$T/sig.csv" "$T/sig.in" >/dev/null 2>&1 & pid=$!
    for _ in $(seq 100); do ls "$T"/sig.json.tmp.* >/dev/null 2>&1 && break; sleep 0.1; done
    ls "$T"/sig.json.tmp.* >/dev/null 2>&1 || fail "no temporary file to clean up (SIG$sig)"
    sleep 0.2
    kill -s "$sig" $pid
    set +e; timeout 10 tail --pid=$pid -f /dev/null; wait $pid; got=$?; set -e
    kill $feeder 2>/dev/null || true; wait $feeder 2>/dev/null || true
    want=$((128 + $(kill -l "$sig")))
    [ $got -eq $want ] || fail "SIG$sig: exit $got, want $want"
    ls "$T"/sig.*.tmp.* 2>/dev/null && fail "SIG$sig left temporary files"
    [ -e "$T/sig.json" ] && fail "SIG$sig: a report was presented as complete"
done
# findings have an output bound; the counts stay exact (#11.9)
python3 - "$T/many.csv" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("method,payment_id,amount,currency,customer_id,ip_address,account_number\n")
    for i in range(100000):
        f.write("touchngo,t%d,5x,MYR,c,1.2.3,12\n" % i)
PY
run 65 validate --report "$T/many.json" --invalid-out "$T/many.inv.csv" "$T/many.csv"
[ "$(stat -c %s "$T/many.json")" -lt 1000000 ] || fail "the default --max-findings does not bound the report"
[ "$(stat -c %s "$T/many.inv.csv")" -lt 1000000 ] || fail "the default --max-findings does not bound --invalid-out"
run 65 validate --max-findings 10 --report "$T/many10.json" --invalid-out "$T/many10.inv.csv" "$T/many.csv"
grep -q "not written to --report" "$T/out" || fail "the summary does not say findings were left out"
python3 - "$T/many10.json" "$T/many10.inv.csv" <<'PY'
import json, sys, csv
r = json.load(open(sys.argv[1]))
assert len(r["findings"]) == 10, len(r["findings"])
assert r["findings_by_code"] == {"bad-amount": 100000, "bad-account-number": 100000, "bad-ip": 100000}, r
assert r["findings_omitted_total"] == 300000 - 10, r
assert sum(r["findings_omitted"].values()) == 300000 - 10, r
rows = list(csv.reader(open(sys.argv[2])))[1:]
assert len(rows) == 4, len(rows)  # whole rows, until 10 findings are written
assert r["invalid_out_rows_omitted"] == 100000 - 4, r
assert r["rows"]["invalid"] == 100000
PY
run 64 validate --max-findings -1 "$T/many.csv"
run 64 validate --max-findings x "$T/many.csv"
# a disk-full write names the file and the reason (#11 also seen)
run 74 validate --report /dev/full "$S/payouts-valid.csv"
grep -q "/dev/full: No space left on device" "$T/err" || { cat "$T/err" >&2; fail "disk-full message (--report)"; }
run 74 validate --invalid-out /dev/full "$S/payouts-invalid.csv"
grep -q "/dev/full: No space left on device" "$T/err" || { cat "$T/err" >&2; fail "disk-full message (--invalid-out)"; }
run 74 validate --report "$T/no/such/dir/r.json" "$S/payouts-valid.csv"
grep -q "no/such/dir/r.json.*No such file or directory" "$T/err" || { cat "$T/err" >&2; fail "missing-dir message"; }
# every output file, every way a write can fail: exit 74, a message naming the file and the
# cause, no output and no temporary file left (a directory that is a file: ENOTDIR; a
# read-only directory: EACCES, not testable as root, who may write anywhere)
touch "$T/plainfile"
mkdir -p "$T/ro"
chmod 555 "$T/ro"
for opt in --report --invalid-out; do
    in=$S/payouts-invalid.csv
    run 74 validate "$opt" /dev/full "$in"
    grep -q "/dev/full: No space left on device" "$T/err" || { cat "$T/err" >&2; fail "$opt: disk-full message"; }
    run 74 validate "$opt" "$T/no/such/dir/x.out" "$in"
    grep -q "no/such/dir/x.out.*No such file or directory" "$T/err" || { cat "$T/err" >&2; fail "$opt: missing-dir message"; }
    run 74 validate "$opt" "$T/plainfile/x.out" "$in"
    grep -q "plainfile/x.out.*Not a directory" "$T/err" || { cat "$T/err" >&2; fail "$opt: not-a-directory message"; }
    if [ "$(id -u)" -ne 0 ]; then
        run 74 validate "$opt" "$T/ro/x.out" "$in"
        grep -q "ro/x.out.*Permission denied" "$T/err" || { cat "$T/err" >&2; fail "$opt: read-only directory message"; }
    fi
    # the other output of the same run is not left behind either
    other=--invalid-out; [ "$opt" = --invalid-out ] && other=--report
    run 74 validate "$opt" /dev/full "$other" "$T/other.out" "$in"
    [ -e "$T/other.out" ] && fail "$opt failed but $other was left behind"
    [ -z "$(ls -A "$T/ro")" ] || fail "$opt: something was left in the read-only directory"
done
chmod 755 "$T/ro"
# -q with a single finding prints it, never "... and 1 more" (#11 also seen)
printf 'method,payment_id,amount,currency,customer_id,ip_address,account_number\ntouchngo,t1,500,MYR,c,1.2.3.4,12345\n' > "$T/one.csv"
run 65 validate -q "$T/one.csv"
grep -q "and 1 more" "$T/out" && fail "-q says '... and 1 more' instead of the finding"
grep -q "row 2, account_number" "$T/out" || fail "-q does not print the single finding"
run 65 validate "$T/many.csv"
grep -q "and 1 more" "$T/out" && fail "'... and 1 more' printed"
grep -q "and 99995 more" "$T/out" || fail "the first 5 examples and the rest counted"
ls "$T"/*.tmp.* 2>/dev/null && fail "temporary files left behind"
echo "validate e2e: all checks passed"
