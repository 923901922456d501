#!/usr/bin/env bash
# `send --rate 100` over 10 s, as the Gate sees it: the sandbox's ledger stamps each accepted
# payout in milliseconds. The achieved rate is within 2% of 100/s and no 1-second window holds
# more than 101 requests (+1 for the sandbox's own scheduling, see below). ctest runs this test alone (RUN_SERIAL): it measures time.
set -euo pipefail
: "${PB_SOURCE_DIR:?set by ctest}"
. "$PB_SOURCE_DIR/tests/integration/lib.sh"
export PAYBATCH_SECRET_KEY=rate-test-secret
start_sandbox sbx 77
PORT=$PORT_sbx

python3 - "$T/rate.csv" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("method,payment_id,amount,currency,customer_id,ip_address,account_number\n")
    for i in range(1000):
        f.write(f"touchngo,rate-{i},{500 + i},MYR,c{i},203.0.113.{i % 250 + 1},6012{i:06d}9\n")
PY
set +e
timeout 60 "$PAYBATCH" send --state "$T/r.db" --gate-url "http://127.0.0.1:$PORT" \
    --project-id 77 --rate 100 --concurrency 16 "$T/rate.csv" >"$T/send.out" 2>"$T/send.err"
rc=$?
set -e
[ $rc -eq 75 ] || fail "send: exit $rc, want 75 (all accepted, results pending)"
python3 - "$T/sbx.ledger" "${PB_TIMING_LOOSE:-}" <<'PY' || fail "rate limit not kept"
import json, sys
t = sorted(json.loads(l)["time_ms"] for l in open(sys.argv[1]) if l.strip())
assert len(t) == 1000, f"{len(t)} payouts in the ledger"
j, worst = 0, 0
for i in range(len(t)):
    while t[i] - t[j] >= 1000:
        j += 1
    worst = max(worst, i - j + 1)
rate = (len(t) - 1) * 1000.0 / (t[-1] - t[0])
print(f"achieved {rate:.2f} req/s, busiest 1-second window {worst}")
# the limiter lets at most 101 leave in any second (exactly checked by test_ratelimit and the
# simulator); these are times the sandbox stamped after reading each request, in another
# process that the kernel may hold back: one request of slack for that, no more
assert worst <= 102, f"a 1-second window held {worst} requests"
if sys.argv[2]:
    # the sanitizer build (scripts/test-all.sh) runs several times slower: there the ceiling
    # is checked, the achieved rate is only reported (the normal build checks it within 2%)
    print("achieved rate not checked in this build")
else:
    assert abs(rate - 100) <= 2, f"achieved {rate:.2f} req/s"
PY
echo "send_rate: ok"
