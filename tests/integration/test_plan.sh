#!/usr/bin/env bash
# Plans and approvals (issue #14), the real binary against the sandbox on loopback:
# plan -> approve -> send --plan end to end; a plan refused after one cell of the file, the
# rate or the Gate URL changes; forged, missing, duplicated and wrong-key approvals; malformed
# plan and key files; require_plan; the confirmation on a terminal (a pseudo-terminal).
# Every refusal sends nothing: the sandbox ledger is checked after each.
set -euo pipefail
: "${PB_SOURCE_DIR:?set by ctest}"
. "$PB_SOURCE_DIR/tests/integration/lib.sh"
export PAYBATCH_SECRET_KEY=plan-test-secret
cd "$T"

start_sandbox sbx 77
PORT=$PORT_sbx
GATE=(--state "$T/s.db" --gate-url "http://127.0.0.1:$PORT" --project-id 77 --max-total PHP:5000)

for k in alice bob carol; do
    openssl genpkey -algorithm ed25519 -out "$T/$k.pem" 2>/dev/null
    chmod 600 "$T/$k.pem"
    openssl pkey -in "$T/$k.pem" -pubout -out "$T/$k.pub" 2>/dev/null
done
cat >"$T/f.csv" <<'CSV'
method,payment_id,amount,currency,customer_id,ip_address,account_number,customer_name
gcash,p-1,150000,PHP,c1,198.51.100.7,09171234567,Juan Cruz
gcash,p-2,100000,PHP,c2,198.51.100.8,09171234568,Juan Cruz
touchngo,p-3,5000,MYR,c3,198.51.100.9,601234567,
CSV
printf 'approval_keys = %s, %s\n' "$T/alice.pub" "$T/bob.pub" >"$T/keys.conf"

# run NAME CMD ARGS...: sets rc; output in $T/NAME.out/.err
run() {
    local n=$1; shift
    set +e
    "$PAYBATCH" "$@" >"$T/$n.out" 2>"$T/$n.err"
    rc=$?
    set -e
}
want() { # CODE NAME WHAT
    [ "$rc" -eq "$1" ] || fail "$2: exit $rc, want $1"
}
nothing_sent() { [ ! -s "$T/sbx.ledger" ] || fail "$1: something was sent"; }
said() { # NAME PATTERN
    grep -q -- "$2" "$T/$1.out" "$T/$1.err" || fail "$1: no '$2' in the output"
}

# ---- 1. plan: written, nothing sent; refused plans write nothing --------------------------
run plan plan "${GATE[@]}" --out "$T/plan.json" "$T/f.csv"
want 0 plan
[ -s "$T/plan.json" ] || fail "no plan file"
said plan "plan sha256:"
said plan "3 to send"
said plan "PHP 2500.00 in 2 rows"
said plan "max-total PHP:5000.00"
nothing_sent plan
python3 - "$T/plan.json" <<'PY' || fail "plan contents"
import json, sys
p = json.load(open(sys.argv[1]))
assert p["gate_url"].startswith("http://127.0.0.1:"), p["gate_url"]
assert p["project_id"] == "77" and p["rate"] == "10.000"
assert [r["payment_id"] for r in p["rows"]] == ["p-1", "p-2", "p-3"]
assert p["rows"][0] == {"row": "2", "payment_id": "p-1", "method": "gcash", "amount": "1500.00",
                        "currency": "PHP", "account": "*******4567"}, p["rows"][0]
assert p["methods"] == ["gcash", "touchngo"] and p["approvals"] == []
assert p["digest"].startswith("sha256:") and len(p["digest"]) == 71
PY
run plan-noout plan "${GATE[@]}" "$T/f.csv"
want 64 plan-noout
run plan-over plan "${GATE[@]}" --max-rows 2 --out "$T/over.json" "$T/f.csv"
want 65 plan-over
[ ! -e "$T/over.json" ] || fail "a plan over a limit was written"
run plan-noproject plan --state "$T/s.db" --out "$T/np.json" "$T/f.csv"
want 78 plan-noproject
echo "ok 1 plan"

# ---- 2. approvals: missing, wrong key, forged, duplicated ---------------------------------
run nokeys send "${GATE[@]}" --config "$T/keys.conf" --plan "$T/plan.json" "$T/f.csv"
want 78 "no approval yet"
said nokeys "0 valid approvals"
nothing_sent nokeys
run approve-a approve --key "$T/alice.pem" --name alice "$T/plan.json"
want 0 approve-a
said approve-a "approved by alice (ed25519:"
run approve-a2 approve --key "$T/alice.pem" --name alice-again "$T/plan.json"
want 65 "second approval with the same key"
said approve-a2 "already approved with this key"
cp "$T/plan.json" "$T/alice-only.json"
run approve-c approve --key "$T/carol.pem" --name carol "$T/plan.json"
want 0 approve-c
# two required: alice counts, carol's key is not configured
printf 'approval_keys = %s, %s\napprovals_required = 2\n' "$T/alice.pub" "$T/bob.pub" >"$T/keys2.conf"
run wrongkey send "${GATE[@]}" --config "$T/keys2.conf" --plan "$T/plan.json" "$T/f.csv"
want 78 "wrong-key approval"
said wrongkey "not in approval_keys: not counted"
nothing_sent wrongkey
# alice's approval twice (copied): counted once
python3 - "$T/alice-only.json" "$T/dup.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p["approvals"].append(dict(p["approvals"][0]))
json.dump(p, open(sys.argv[2], "w"))
PY
run dup send "${GATE[@]}" --config "$T/keys2.conf" --plan "$T/dup.json" "$T/f.csv"
want 78 "duplicated approval"
said dup "counted once"
nothing_sent dup
# forged: another name under alice's signature, and a flipped signature byte
python3 - "$T/alice-only.json" "$T/forged-name.json" "$T/forged-sig.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p["approvals"][0]["name"] = "mallory"
json.dump(p, open(sys.argv[2], "w"))
p = json.load(open(sys.argv[1]))
s = p["approvals"][0]["signature"]
p["approvals"][0]["signature"] = ("0" if s[0] != "0" else "1") + s[1:]
json.dump(p, open(sys.argv[3], "w"))
PY
for f in forged-name forged-sig; do
    run "$f" send "${GATE[@]}" --config "$T/keys.conf" --plan "$T/$f.json" "$T/f.csv"
    want 65 "$f"
    said "$f" "does not verify"
    nothing_sent "$f"
done
# an approval copied from another plan: does not verify for this one
run plan2 plan "${GATE[@]}" --rate 5 --out "$T/plan2.json" "$T/f.csv"
want 0 plan2
python3 - "$T/alice-only.json" "$T/plan2.json" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))["approvals"]
p = json.load(open(sys.argv[2])); p["approvals"] = a
json.dump(p, open(sys.argv[2], "w"))
PY
run copied send "${GATE[@]}" --rate 5 --config "$T/keys.conf" --plan "$T/plan2.json" "$T/f.csv"
want 65 "approval copied from another plan"
nothing_sent copied
# expired: approval_max_age (seconds) counts only approvals given within it; "at" is signed
sleep 2
printf 'approval_keys = %s\napproval_max_age = 1\n' "$T/alice.pub" >"$T/expire.conf"
run expired send "${GATE[@]}" --config "$T/expire.conf" --plan "$T/alice-only.json" "$T/f.csv"
want 78 "expired approval"
said expired "expired, not counted"
nothing_sent expired
run maxage send "${GATE[@]}" --approval-max-age 100000 --plan "$T/alice-only.json" "$T/f.csv"
want 64 "approval_max_age on the command line"
nothing_sent maxage
echo "ok 2 missing, wrong-key, duplicated, forged, expired approvals refused"

# ---- 3. the run must be the plan: a cell, the rate, the URL -------------------------------
sed 's/150000/150001/' "$T/f.csv" >"$T/cell.csv"
run cell send "${GATE[@]}" --config "$T/keys.conf" --plan "$T/alice-only.json" "$T/cell.csv"
want 65 "one cell changed"
said cell "the file's SHA-256 (the file changed)"
run rate send "${GATE[@]}" --rate 11 --config "$T/keys.conf" --plan "$T/alice-only.json" "$T/f.csv"
want 65 "rate changed"
said rate "the rate: the plan has 10.000 per second, this run 11.000"
run url send --state "$T/s.db" --gate-url "http://localhost:$PORT" --project-id 77 --max-total PHP:5000 \
    --config "$T/keys.conf" --plan "$T/alice-only.json" "$T/f.csv"
want 65 "URL changed"
said url "the Gate URL: the plan has 'http://127.0.0.1:$PORT', this run 'http://localhost:$PORT'"
run limit send --state "$T/s.db" --gate-url "http://127.0.0.1:$PORT" --project-id 77 \
    --config "$T/keys.conf" --plan "$T/alice-only.json" "$T/f.csv"
want 65 "limits changed"
said limit "limits or control totals"
nothing_sent "changes"
echo "ok 3 a changed cell, rate, URL or limit refused"

# ---- 4. malformed plan and key files -----------------------------------------------------
printf '{' >"$T/bad.json"
run badplan send "${GATE[@]}" --plan "$T/bad.json" "$T/f.csv"
want 65 "malformed plan"
said badplan "not a plan"
run noplan send "${GATE[@]}" --plan "$T/none.json" "$T/f.csv"
want 66 "missing plan"
python3 - "$T/alice-only.json" "$T/edited.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1])); p["rows"][0]["amount"] = "1.00"
json.dump(p, open(sys.argv[2], "w"))
PY
run edited send "${GATE[@]}" --plan "$T/edited.json" "$T/f.csv"
want 65 "edited plan"
said edited "was edited after it was made"
run edited-approve approve --key "$T/bob.pem" "$T/edited.json"
want 65 "approving an edited plan"
printf 'not a key\n' >"$T/bad.pem"
run badkey approve --key "$T/bad.pem" "$T/alice-only.json"
want 78 "malformed key"
said badkey "not a PEM private key"
run pubkey approve --key "$T/alice.pub" "$T/alice-only.json"
want 78 "public key given to approve"
said pubkey "this is a public key"
printf 'approval_keys = %s\n' "$T/alice.pem" >"$T/priv.conf"
run privcfg send "${GATE[@]}" --config "$T/priv.conf" --plan "$T/alice-only.json" "$T/f.csv"
want 78 "private key in approval_keys"
said privcfg "this is a private key"
printf 'approval_keys = %s\n' "$T/nope.pub" >"$T/nope.conf"
run nokeyfile send "${GATE[@]}" --config "$T/nope.conf" --plan "$T/alice-only.json" "$T/f.csv"
want 78 "missing key file"
nothing_sent "bad files"
echo "ok 4 malformed plan and key files"

# ---- 5. require_plan --------------------------------------------------------------------
printf 'require_plan = true\napproval_keys = %s, %s\n' "$T/alice.pub" "$T/bob.pub" >"$T/req.conf"
run req send "${GATE[@]}" --config "$T/req.conf" "$T/f.csv"
want 78 "require_plan without a plan"
said req "require_plan is set"
printf 'require_plan = true\n' >"$T/req-nokeys.conf"
run req-nokeys send "${GATE[@]}" --config "$T/req-nokeys.conf" --plan "$T/alice-only.json" "$T/f.csv"
want 78 "require_plan without approval_keys"
said req-nokeys "names no key"
nothing_sent req
# the approval settings are the config file's alone: neither argv nor the environment
run req-argv send "${GATE[@]}" --config "$T/req.conf" --approval-keys "$T/carol.pub" "$T/f.csv"
want 64 "--approval-keys on the command line"
PAYBATCH_REQUIRE_PLAN=false run req-env send "${GATE[@]}" --config "$T/req.conf" "$T/f.csv"
want 78 "PAYBATCH_REQUIRE_PLAN=false does not lift require_plan"
nothing_sent req
echo "ok 5 require_plan"

# ---- 6. approved by two, sent exactly as planned; resume; status and report ---------------
run approve-b approve --key "$T/bob.pem" --name bob "$T/alice-only.json"
want 0 approve-b
printf 'require_plan = true\napproval_keys = %s, %s\napprovals_required = 2\n' "$T/alice.pub" "$T/bob.pub" >"$T/two.conf"
run go send "${GATE[@]}" --config "$T/two.conf" --plan "$T/alice-only.json" --report "$T/r.json" "$T/f.csv"
[ $rc -eq 0 ] || [ $rc -eq 75 ] || fail "approved plan: exit $rc"
said go "this run is the plan"
[ "$(wc -l <"$T/sbx.ledger")" -eq 3 ] || fail "want 3 payouts"
run again send "${GATE[@]}" --config "$T/two.conf" --plan "$T/alice-only.json" "$T/f.csv"
[ $rc -eq 0 ] || [ $rc -eq 75 ] || fail "resume under the plan: exit $rc"
[ "$(wc -l <"$T/sbx.ledger")" -eq 3 ] || fail "resume sent again"
run status status --state "$T/s.db"
said status "approved by alice (ed25519:[0-9a-f]*), bob (ed25519:"
python3 - "$T/r.json" <<'PY' || fail "report: no plan"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["plan"]["digest"].startswith("sha256:") and "alice" in d["plan"]["approvers"], d.get("plan")
PY
echo "ok 6 plan -> approve x2 -> send; resume; status and report name the plan"

# ---- 7. the confirmation on a terminal ---------------------------------------------------
sed 's/,p-/,t-/; s/150000/150100/; s/100000/100100/; s/5000,MYR/5100,MYR/' "$T/f.csv" >"$T/tty.csv"
tty_send() { # ANSWER [FILE]: prints the exit code, output in $T/tty.log; ANSWER - : --yes
    python3 - "$PAYBATCH" "$1" "$T/tty.log" "${GATE[@]}" "${2:-$T/tty.csv}" <<'PY'
import os, pty, select, sys, time
exe, answer, log, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
if answer == "-":
    args = ["--yes"] + args
pid, fd = pty.fork()
if pid == 0:
    os.execv(exe, [exe, "send"] + args)
# keep reading until the end: a child whose terminal is not read blocks on its progress line
out, deadline = b"", time.time() + 120
while answer != "-" and b"Type the number" not in out and time.time() < deadline:
    if select.select([fd], [], [], 0.2)[0]:
        try:
            out += os.read(fd, 4096)
        except OSError:
            break
if answer != "-":
    if os.environ.get("TTY_CHANGE"):  # the file changes in place while the question waits
        with open(args[-1], "r+b") as f:
            f.seek(-4, 2)
            f.write(b"9")
    os.write(fd, answer.encode() + b"\n")
deadline = time.time() + 240
while time.time() < deadline:
    if select.select([fd], [], [], 0.2)[0]:
        try:
            b = os.read(fd, 4096)
        except OSError:
            break
        if not b:
            break
        out += b
open(log, "wb").write(out)
_, st = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(st))
PY
}
rc=$(tty_send 2)
[ "$rc" = 75 ] || fail "wrong row count typed: exit $rc"
grep -q "Type the number of rows to send (3)" "$T/tty.log" || fail "no question on a terminal"
grep -q "not confirmed; nothing was sent" "$T/tty.log" || fail "no refusal"
[ "$(wc -l <"$T/sbx.ledger")" -eq 3 ] || fail "sent without confirmation"
rc=$(tty_send 3)
[ "$rc" = 0 ] || [ "$rc" = 75 ] || fail "confirmed on a terminal: exit $rc"
[ "$(wc -l <"$T/sbx.ledger")" -eq 6 ] || fail "confirmed, not sent"
# off a terminal nothing is asked; --yes skips the question on one
sed 's/,p-/,u-/; s/150000/150200/' "$T/f.csv" >"$T/notty.csv"
run notty send "${GATE[@]}" "$T/notty.csv" </dev/null
[ $rc -eq 0 ] || [ $rc -eq 75 ] || fail "off a terminal: exit $rc"
! grep -q "Type the number" "$T/notty.out" || fail "asked off a terminal"
[ "$(wc -l <"$T/sbx.ledger")" -eq 9 ] || fail "off a terminal: not sent"
sed 's/,p-/,v-/; s/150000/150300/' "$T/f.csv" >"$T/yes.csv"
rc=$(tty_send - "$T/yes.csv")
[ "$rc" = 0 ] || [ "$rc" = 75 ] || fail "--yes on a terminal: exit $rc"
! grep -q "Type the number" "$T/tty.log" || fail "asked despite --yes"
[ "$(wc -l <"$T/sbx.ledger")" -eq 12 ] || fail "--yes: not sent"
echo "ok 7 confirmation on a terminal"

# ---- 8. a file changed between its check and its sending ----------------------------------
# (the question on a terminal holds the run between the two; any other moment is the same:
# each piece of the file is compared with the one checked before its rows are stored)
sed 's/,p-/,w-/; s/150000/150400/' "$T/f.csv" >"$T/chg.csv"
rc=$(TTY_CHANGE=1 tty_send 3 "$T/chg.csv")
[ "$rc" = 65 ] || fail "changed file: exit $rc"
grep -q "changed while it was being sent" "$T/tty.log" || fail "changed file: no message"
[ "$(wc -l <"$T/sbx.ledger")" -eq 12 ] || fail "changed file: something was sent"
echo "ok 8 a file changed after its check is not sent"
