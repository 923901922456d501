#!/usr/bin/env bash
# The sandbox's ledger and payment table under pressure: a full disk (or a file size limit)
# never leaves a partial line (#11.6); at its payment cap the sandbox answers 503 with
# Retry-After (#11 also seen); ids crafted to collide are served as fast as any (#11.8).
set -euo pipefail
: "${PAYBATCH:?set by ctest}"
T=$(mktemp -d)
SRV=""
cleanup() {
    [ -n "$SRV" ] && kill "$SRV" 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; cat "$T"/err* >&2 2>/dev/null || true; exit 1; }
export PAYBATCH_SECRET_KEY=sandbox-secret-1

start() { # ledger args... ; the ulimit of the caller applies
    local ledger=$1; shift
    "$PAYBATCH" sandbox --listen 127.0.0.1:0 --project-id 4242 --ledger "$ledger" \
        --callback-delay-ms 60000 "$@" >"$T/out" 2>"$T/err" &
    SRV=$!
    for _ in $(seq 50); do grep -q "^listening on" "$T/out" 2>/dev/null && break; sleep 0.1; done
    PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$T/out")
    [ -n "$PORT" ] || fail "sandbox did not start"
}
stop() {
    kill -TERM "$SRV"
    set +e; timeout 10 tail --pid="$SRV" -f /dev/null; wait "$SRV"; local rc=$?; set -e
    SRV=""
    [ "$rc" -eq 0 ] || fail "sandbox exited $rc"
}
# send N payouts with ids PREFIX-0..N-1; print one "status retry-after" line per payout
cat >"$T/send.py" <<'PY'
import base64, hashlib, hmac, json, sys, http.client
port, n, prefix = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
for i in range(n):
    pid = f"{prefix}-{i}"
    b = {"general": {"project_id": 4242, "payment_id": pid},
         "customer": {"id": "c", "ip_address": "10.0.0.1"},
         "account": {"number": "60123456789"}, "payment": {"amount": 5000, "currency": "MYR"}}
    s = ("account:number:60123456789;customer:id:c;customer:ip_address:10.0.0.1;"
         f"general:payment_id:{pid};general:project_id:4242;payment:amount:5000;payment:currency:MYR")
    b["general"]["signature"] = base64.b64encode(
        hmac.new(b"sandbox-secret-1", s.encode(), hashlib.sha512).digest()).decode()
    c.request("POST", "/v2/payment/wallet/touchngo/payout", body=json.dumps(b),
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    print(r.status, r.getheader("Retry-After"))
    if r.getheader("Connection") == "close":
        c.close()
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
PY
check_ledger() { # file: every line is complete JSON; prints the count
    python3 - "$1" <<'PY'
import json, sys
data = open(sys.argv[1], "rb").read()
assert not data or data.endswith(b"\n"), f"the ledger ends in a partial line: {data[-80:]!r}"
for l in data.splitlines():
    json.loads(l)
print(len(data.splitlines()))
PY
}

# 1. file size limit (a short write): lines stay whole, 500 for what was not recorded
(
    ulimit -f 1 # 1024 bytes: a few lines fit, then a write is cut short
    trap '' XFSZ
    start "$T/ledger-fsize"
    python3 "$T/send.py" "$PORT" 20 fs >"$T/fs.status"
    stop
)
ok=$(grep -c '^200 ' "$T/fs.status" || true)
bad=$(grep -c '^500 ' "$T/fs.status" || true)
[ "$ok" -gt 0 ] && [ "$bad" -gt 0 ] || fail "want some 200 and some 500 under the limit: $ok/$bad"
lines=$(check_ledger "$T/ledger-fsize") || fail "ledger under a file size limit"
[ "$lines" -eq "$ok" ] || fail "ledger has $lines lines for $ok accepted payouts"

# 2. disk full (/dev/full): 500, the payout is not recorded, the sandbox goes on
start /dev/full
python3 "$T/send.py" "$PORT" 3 full >"$T/full.status"
stop
[ "$(grep -c '^500 ' "$T/full.status")" -eq 3 ] || fail "/dev/full ledger: want 500"
grep -q "ledger /dev/full: No space left on device" "$T/err" || fail "ledger error message"

# 3. at the payment cap: 503 with Retry-After, nothing recorded (#11.8, also seen)
start "$T/ledger-cap" --max-payments 3
python3 "$T/send.py" "$PORT" 5 cap >"$T/cap.status"
stop
[ "$(head -3 "$T/cap.status" | grep -c '^200 ')" -eq 3 ] || fail "the first 3 payouts"
[ "$(tail -2 "$T/cap.status")" = "$(printf '503 5\n503 5')" ] || fail "503 with Retry-After at the cap: $(cat "$T/cap.status")"
[ "$(check_ledger "$T/ledger-cap")" -eq 3 ] || fail "only the kept payments are in the ledger"
"$PAYBATCH" sandbox --help >"$T/help"
grep -q -- "--max-payments N" "$T/help" && grep -q "default 1000000" "$T/help" || fail "--help: the cap and its memory"

echo "sandbox ledger: all checks passed"
