#!/usr/bin/env bash
# End to end: run `paybatch sandbox` on loopback (ephemeral port), send signed payouts of both
# methods and every refusal, check the ledger, status queries, scripted outcomes, callbacks
# (received by a small Python server), and that SIGTERM stops it with a summary.
set -euo pipefail
: "${PAYBATCH:?set by ctest}"
T=$(mktemp -d)
SRV=""
CBS=""
HANG=""
cleanup() {
    [ -n "$SRV" ] && kill "$SRV" 2>/dev/null || true
    [ -n "$CBS" ] && kill "$CBS" 2>/dev/null || true
    [ -n "$HANG" ] && kill "$HANG" 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; cat "$T/err" >&2 2>/dev/null || true; exit 1; }
export PAYBATCH_SECRET_KEY=sandbox-secret-1

# callback receiver: answers 500 to the first callback, then 200; records bodies
cat >"$T/cbrecv.py" <<'PY'
import http.server, sys, os
out = sys.argv[1]
seen = {"n": 0}
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        if self.path == "/always500":  # counts attempts, never acknowledges
            with open(out + ".500", "ab") as f:
                f.write(b"x\n")
            self.send_response(500); self.end_headers(); return
        seen["n"] += 1
        if seen["n"] == 1:
            self.send_response(500); self.end_headers(); return
        with open(out, "ab") as f:
            f.write(body + b"\n")
        self.send_response(200); self.end_headers(); self.wfile.write(b"OK")
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
PY
python3 "$T/cbrecv.py" "$T/callbacks" >"$T/cbport" 2>/dev/null &
CBS=$!
for _ in $(seq 50); do [ -s "$T/cbport" ] && break; sleep 0.1; done
CBPORT=$(head -1 "$T/cbport")
[ -n "$CBPORT" ] || fail "callback receiver did not start"

"$PAYBATCH" sandbox --listen 127.0.0.1:0 --project-id 4242 --ledger "$T/ledger" \
    --callback-delay-ms 100 --callback-retry-scale 0.001 \
    --callback-url "http://127.0.0.1:$CBPORT/cb" >"$T/out" 2>"$T/err" &
SRV=$!
for _ in $(seq 50); do grep -q "^listening on" "$T/out" 2>/dev/null && break; sleep 0.1; done
PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$T/out")
[ -n "$PORT" ] || fail "no 'listening on' line"

python3 - "$PORT" "$T/ledger" "$T/callbacks" <<'PY'
import base64, hashlib, hmac, json, sys, time, urllib.request, urllib.error, socket
port, ledger, cbfile = int(sys.argv[1]), sys.argv[2], sys.argv[3]
SECRET = b"sandbox-secret-1"
BASE = f"http://127.0.0.1:{port}"

def flat(obj, prefix=""):
    out = []
    for k, v in obj.items():
        if k in ("signature", "frame_mode"):
            continue
        p = (prefix + ":" if prefix else "") + k.replace(":", "::")
        if isinstance(v, dict):
            out += flat(v, p)
        elif isinstance(v, bool):
            out.append(f"{p}:{1 if v else 0}")
        elif v is None:
            out.append(f"{p}:")
        else:
            out.append(f"{p}:{v}")
    return out

def path_of(e):
    # the test data has no ':' in values, so the PATH ends at the last ':'
    return e.rsplit(":", 1)[0].encode()

def sign(obj):
    s = ";".join(sorted(flat(obj), key=path_of))
    return base64.b64encode(hmac.new(SECRET, s.encode(), hashlib.sha512).digest()).decode()

def post(path, body, raw=None):
    data = raw if raw is not None else json.dumps(body).encode()
    req = urllib.request.Request(BASE + path, data=data, method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())

def payout(pid, method="gcash", **over):
    b = {"general": {"project_id": 4242, "payment_id": pid},
         "customer": {"id": "c-1", "ip_address": "198.51.100.7"},
         "account": {"number": "09171234567", "customer_name": "Juan Dela Cruz"},
         "payment": {"amount": 150000, "currency": "PHP", "description": "x"}}
    if method == "touchngo":
        b["account"] = {"number": "60123456789"}
        b["payment"]["currency"] = "MYR"
        b["payment"]["amount"] = 5000
    for k, v in over.items():
        sec, f = k.split("__")
        if v is DEL:
            del b[sec][f]
        else:
            b[sec][f] = v
    return b

DEL = object()
EP = {"gcash": "/v2/payment/wallet/gcash/payout", "touchngo": "/v2/payment/wallet/touchngo/payout"}

def send(b, method="gcash", signed=True, sig=None):
    if signed:
        b["general"]["signature"] = sig if sig is not None else sign(b)
    return post(EP[method], b)

def eq(a, b, what):
    assert a == b, f"{what}: {a!r} != {b!r}"

def ledger_lines():
    try:
        return [json.loads(l) for l in open(ledger)]
    except FileNotFoundError:
        return []

checks = 0
# liveness route
with urllib.request.urlopen(BASE + "/healthz", timeout=5) as r:
    eq((r.status, json.loads(r.read())), (200, {"status": "ok"}), "healthz")
checks += 1
# valid payouts, both methods
st, r = send(payout("g-1"))
eq((st, r["status"], r["payment_id"], r["project_id"]), (200, "success", "g-1", 4242), "gcash ok")
assert r["request_id"]
st, r = send(payout("t-1", "touchngo"), "touchngo")
eq((st, r["status"], r["payment_id"]), (200, "success", "t-1"), "touchngo ok")
L = ledger_lines()
eq([(l["payment_id"], l["method"], l["amount"], l["currency"], l["account"]) for l in L],
   [("g-1", "gcash", 150000, "PHP", "09171234567"), ("t-1", "touchngo", 5000, "MYR", "60123456789")],
   "ledger")
assert all("time" in l for l in L)
checks += 3

def refused(code, b, method="gcash", http=400, **kw):
    global checks
    st, r = send(b, method, **kw)
    eq((st, r["status"], r["code"]), (http, "error", code), f"refusal {code}")
    eq(r["message"] != "", True, "message")
    checks += 1
    return r

# bad JSON, then still serving
st, r = post(EP["gcash"], None, raw=b"{not json")
eq((st, r["code"], r["message"]), (400, "2003", "Invalid JSON string"), "bad json")
refused("3262", payout("r-1"), signed=False)
refused("3261", payout("r-2"), sig="A" * 88)
r = refused("2442", payout("r-3", general__project_id=9999))
eq(r["payment_id"], "r-3", "payment_id echoed")
refused("2003", payout("r-4", general__project_id="4242"))
refused("2003", payout("r-5", payment__amount=1500.5))
refused("2003", payout("r-6", payment__amount="150000"))
for f in ("customer__id", "customer__ip_address", "account__number", "payment__amount",
          "payment__currency", "account__customer_name"):
    refused("2004", payout("r-7", **{f: DEL}))
refused("2004", payout("r-7b", customer__ip_address="999.1.1.1"))
b = payout("x"); del b["general"]["payment_id"]; refused("2004", b)
refused("3121", payout("r-8", payment__currency="USD"))
refused("3358", payout("r-9", payment__amount=999))
refused("2642", payout("r-10", payment__amount=10000001))
refused("3242", payout("r-11", account__number="08171234567"))
refused("3242", payout("r-12", "touchngo", account__number="12ab"), "touchngo")
refused("3041", payout("g-1"))
eq(len(ledger_lines()), 2, "no ledger line for refusals or duplicates")
st, r = send(payout("g-2"))
eq(st, 200, "still serving after bad input")
checks += 3

# status queries and scripted outcomes
def status(pid, project=4242):
    b = {"general": {"project_id": project, "payment_id": pid}}
    b["general"]["signature"] = sign(b)
    return post("/v2/payment/status", b)

def verify(r):
    sig = r.pop("signature")
    def fl(o, pre=""):
        out = []
        for k, v in o.items():
            p = (pre + ":" if pre else "") + k
            if isinstance(v, dict): out += fl(v, p)
            elif isinstance(v, list):
                for i, x in enumerate(v):
                    out += fl(x, f"{p}:{i}") if isinstance(x, dict) else [f"{p}:{i}:{x}"]
            else: out.append(f"{p}:{v}")
        return out
    s = ";".join(sorted(fl(r), key=lambda e: e.rsplit(":", 1)[0].encode()))
    exp = base64.b64encode(hmac.new(SECRET, s.encode(), hashlib.sha512).digest()).decode()
    eq(sig, exp, "status/callback signature")

st, r = status("nope")
eq((st, r["code"], r["message"]), (404, "3061", "Transaction not found"), "unknown status")
for acc, pid, want, code in (("09171234501", "d-1", "decline", "20101"),
                             ("09171234502", "d-2", "decline", "20102"),
                             ("09171234503", "p-3", "success", "0"),
                             ("09171234504", "rv-4", "reversed", "0")):
    eq(send(payout(pid, account__number=acc))[0], 200, "scripted accept")
time.sleep(0.5)
st, r = status("g-1")
eq(st, 200, "status ok")
verify(r)
eq((r["project_id"], r["payment"]["id"], r["payment"]["status"], r["payment"]["sum"]),
   (4242, "g-1", "success", {"amount": 150000, "currency": "PHP"}), "status body")
op = r["operations"][0]
eq((op["type"], op["status"], op["code"]), ("payout", "success", "0"), "operation")
assert op["provider"]["payment_id"]
for pid, code in (("d-1", "20101"), ("d-2", "20102")):
    st, r = status(pid)
    eq((r["payment"]["status"], r["operations"][0]["code"]), ("decline", code), pid)
seen = [status("p-3")[1]["payment"]["status"] for _ in range(3)]
eq(seen, ["processing", "processing", "success"], "03 polls")
st, r = status("rv-4")
verify(r)
eq((r["payment"]["status"], [(o["type"], o["status"], o["code"]) for o in r["operations"]]),
   ("reversed", [("payout", "success", "0"), ("reversal", "success", "0")]), "04 reversal")
st, r = status("g-1", project=1)
eq((st, r["code"]), (400, "2442"), "status other project")
checks += 8

# callbacks: every final outcome arrives signed (the first attempt got 500 and was retried)
want = {"g-1", "t-1", "g-2", "d-1", "d-2", "p-3", "rv-4"}
got = {}
for _ in range(100):
    try:
        got, rv = {}, []
        for line in open(cbfile):
            c = json.loads(line)
            got[c["payment"]["id"]] = c
            if c["payment"]["id"] == "rv-4":
                rv.append(c)
    except FileNotFoundError:
        pass
    if set(got) >= want and len(rv) >= 2:
        break
    time.sleep(0.1)
eq(set(got), want, "callbacks received")
for c in rv:
    verify(c)
eq([(c["payment"]["status"], c["operation"]["type"], c["operation"]["status"]) for c in rv],
   [("success", "payout", "success"), ("reversed", "reversal", "success")], "04 callbacks")
c = got["d-1"]
verify(c)
eq((c["project_id"], c["payment"]["type"], c["payment"]["status"], c["operation"]["type"],
    c["operation"]["status"], c["operation"]["code"]),
   (4242, "payout", "decline", "payout", "decline", "20101"), "callback body")
checks += 2
print(f"sandbox e2e: {checks} check groups passed")
PY

kill -TERM "$SRV"
for _ in $(seq 100); do kill -0 "$SRV" 2>/dev/null || break; sleep 0.1; done
kill -0 "$SRV" 2>/dev/null && fail "sandbox did not stop on SIGTERM"
set +e; wait "$SRV"; rc=$?; set -e
SRV=""
[ "$rc" -eq 0 ] || fail "sandbox exited $rc after SIGTERM"
grep -q "accepted" "$T/err" || fail "no summary on stderr"
grep -q "refused 3041" "$T/err" || fail "summary lacks the by-code lines"
# fault switches: a second sandbox answering 429 to everything, a third that records then drops
start_faulty() { # name args...
    local name=$1; shift
    "$PAYBATCH" sandbox --listen 127.0.0.1:0 --project-id 4242 --ledger "$T/ledger-$name" \
        --seed 7 --callback-retry-scale 0.001 "$@" >"$T/out-$name" 2>"$T/err-$name" &
    SRV=$!
    for _ in $(seq 50); do grep -q "^listening on" "$T/out-$name" 2>/dev/null && break; sleep 0.1; done
    FPORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$T/out-$name")
    [ -n "$FPORT" ] || fail "faulty sandbox $name did not start"
}
stop_faulty() {
    kill -TERM "$SRV"
    set +e; timeout 10 tail --pid="$SRV" -f /dev/null; wait "$SRV"; local rc=$?; set -e
    SRV=""
    [ "$rc" -eq 0 ] || fail "faulty sandbox exited $rc"
}
cat >"$T/one.py" <<'PY'
import base64, hashlib, hmac, json, socket, sys, urllib.request, urllib.error
port, mode = int(sys.argv[1]), sys.argv[2]
tmo = float(sys.argv[3]) if len(sys.argv) > 3 else 5
b = {"general": {"project_id": 4242, "payment_id": "f-1"},
     "customer": {"id": "c", "ip_address": "10.0.0.1"},
     "account": {"number": "60123456789"}, "payment": {"amount": 5000, "currency": "MYR"}}
s = "account:number:60123456789;customer:id:c;customer:ip_address:10.0.0.1;" \
    "general:payment_id:f-1;general:project_id:4242;payment:amount:5000;payment:currency:MYR"
b["general"]["signature"] = base64.b64encode(
    hmac.new(b"sandbox-secret-1", s.encode(), hashlib.sha512).digest()).decode()
req = urllib.request.Request(f"http://127.0.0.1:{port}/v2/payment/wallet/touchngo/payout",
                             data=json.dumps(b).encode(), method="POST",
                             headers={"Content-Type": "application/json"})
try:
    with urllib.request.urlopen(req, timeout=tmo) as r:
        print("status", r.status)
except urllib.error.HTTPError as e:
    print("status", e.code, e.headers.get("Retry-After"))
except (TimeoutError, socket.timeout):
    print("timeout")
except urllib.error.URLError as e:
    print("timeout" if isinstance(e.reason, (TimeoutError, socket.timeout)) else "dropped")
except Exception:
    print("dropped")
PY
start_faulty 429 --fail-429 1
[ "$(python3 "$T/one.py" "$FPORT" x)" = "status 429 1" ] || fail "--fail-429 1"
stop_faulty
[ ! -s "$T/ledger-429" ] || fail "429 must not record"
start_faulty 500 --fail-500 1
[ "$(python3 "$T/one.py" "$FPORT" x)" = "status 500 None" ] || fail "--fail-500 1"
stop_faulty
start_faulty drop --drop-after-record 1
[ "$(python3 "$T/one.py" "$FPORT" x)" = "dropped" ] || fail "--drop-after-record 1"
stop_faulty
[ "$(wc -l <"$T/ledger-drop")" -eq 1 ] || fail "drop-after-record must record once"
grep -q '"payment_id":"f-1"' "$T/ledger-drop" || fail "ledger line of the dropped payout"
start_faulty slow --slow-ms 1500 --slow 1
[ "$(python3 "$T/one.py" "$FPORT" x 0.3)" = "timeout" ] || fail "--slow 1: want a client timeout"
[ "$(wc -l <"$T/ledger-slow")" -eq 1 ] || fail "--slow: the payout must be recorded at once"
stop_faulty
start_faulty slow2 --slow-ms 400 --slow 1
t0=$(date +%s%N)
[ "$(python3 "$T/one.py" "$FPORT" x 5)" = "status 200" ] || fail "--slow: patient client gets 200"
[ $(( ($(date +%s%N) - t0) / 1000000 )) -ge 400 ] || fail "--slow-ms 400 answered early"
stop_faulty
start_faulty cbdrop --callback-drop 1 --callback-delay-ms 0 --callback-url "http://127.0.0.1:$CBPORT/cb"
[ "$(python3 "$T/one.py" "$FPORT" x)" = "status 200" ] || fail "cbdrop accept"
sleep 0.5
stop_faulty
[ "$(grep -c '"id":"f-1"' "$T/callbacks" || true)" -eq 0 ] || fail "--callback-drop 1 sent a callback"
start_faulty cbdup --callback-dup 1 --callback-delay-ms 0 --callback-url "http://127.0.0.1:$CBPORT/cb"
[ "$(python3 "$T/one.py" "$FPORT" x)" = "status 200" ] || fail "cbdup accept"
for _ in $(seq 50); do [ "$(grep -c '"id":"f-1"' "$T/callbacks" || true)" -ge 2 ] && break; sleep 0.1; done
stop_faulty
[ "$(grep -c '"id":"f-1"' "$T/callbacks" || true)" -eq 2 ] || fail "--callback-dup 1: want 2 callbacks"
# callback signature / order checker: the f-1 callbacks after line $2 of the file, one line
# each: "<payment.status> ok|bad"
cat >"$T/cbcheck.py" <<'PY'
import base64, hashlib, hmac, json, sys
def fl(o, pre=""):
    out = []
    for k, v in o.items():
        if k == "signature" and not pre:
            continue
        p = (pre + ":" if pre else "") + k
        out += fl(v, p) if isinstance(v, dict) else [f"{p}:{v}"]
    return out
for line in open(sys.argv[1]).readlines()[int(sys.argv[2]):]:
    c = json.loads(line)
    if c["payment"]["id"] != "f-1":
        continue
    s = ";".join(sorted(fl(c), key=lambda e: e.rsplit(":", 1)[0].encode()))
    exp = base64.b64encode(hmac.new(b"sandbox-secret-1", s.encode(), hashlib.sha512).digest())
    print(c["payment"]["status"], "ok" if exp.decode() == c["signature"] else "bad")
PY
wait_cb() { # from-line count
    for _ in $(seq 50); do
        [ "$(python3 "$T/cbcheck.py" "$T/callbacks" "$1" | wc -l)" -ge "$2" ] && break
        sleep 0.1
    done
}
n0=$(wc -l <"$T/callbacks")
start_faulty cbkey --callback-wrong-key 1 --callback-delay-ms 0 --callback-url "http://127.0.0.1:$CBPORT/cb"
[ "$(python3 "$T/one.py" "$FPORT" x)" = "status 200" ] || fail "cbkey accept"
wait_cb "$n0" 1
stop_faulty
[ "$(python3 "$T/cbcheck.py" "$T/callbacks" "$n0")" = "success bad" ] || fail "--callback-wrong-key 1"
n0=$(wc -l <"$T/callbacks")
start_faulty cbord --callback-reorder 1 --callback-delay-ms 0 --callback-url "http://127.0.0.1:$CBPORT/cb"
[ "$(python3 "$T/one.py" "$FPORT" x)" = "status 200" ] || fail "cbord accept"
wait_cb "$n0" 2
stop_faulty
[ "$(python3 "$T/cbcheck.py" "$T/callbacks" "$n0" | tr '\n' ,)" = "success ok,processing ok," ] ||
    fail "--callback-reorder 1: want the final callback, then processing"
# bounded retries: a receiver that never acknowledges gets exactly --callback-max-attempts
start_faulty cbmax --callback-max-attempts 3 --callback-delay-ms 0 \
    --callback-url "http://127.0.0.1:$CBPORT/always500"
[ "$(python3 "$T/one.py" "$FPORT" x)" = "status 200" ] || fail "cbmax accept"
for _ in $(seq 50); do grep -q "not acknowledged" "$T/err-cbmax" && break; sleep 0.1; done
stop_faulty
[ "$(wc -l <"$T/callbacks.500")" -eq 3 ] || fail "--callback-max-attempts 3: want 3 attempts"
grep -q "0 callbacks acknowledged, 1 not" "$T/err-cbmax" || fail "cbmax summary"
# at Gate's real schedule (10 s before attempt 2) SIGTERM still stops the sandbox promptly
start_faulty cbreal --callback-retry-scale 1 --callback-delay-ms 0 \
    --callback-url "http://127.0.0.1:$CBPORT/always500"
[ "$(python3 "$T/one.py" "$FPORT" x)" = "status 200" ] || fail "cbreal accept"
for _ in $(seq 50); do [ "$(wc -l <"$T/callbacks.500")" -ge 4 ] && break; sleep 0.1; done
t0=$(date +%s%N)
stop_faulty
[ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 3000 ] || fail "SIGTERM waited for a callback retry"
[ "$(wc -l <"$T/callbacks.500")" -eq 4 ] || fail "--callback-retry-scale 1: one attempt only"
# callbacks waiting for a retry occupy no thread: with 8 of them waiting (more than libuv's 4
# pool threads) at the real schedule, a callback to a healthy receiver still arrives at once
cat >"$T/many.py" <<'PY'
import base64, hashlib, hmac, json, sys, urllib.request
port, n, url, pid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
for i in range(n):
    g = {"project_id": 4242, "payment_id": f"{pid}-{i}", "merchant_callback_url": url}
    b = {"general": g, "customer": {"id": "c", "ip_address": "10.0.0.1"},
         "account": {"number": "60123456789"}, "payment": {"amount": 5000, "currency": "MYR"}}
    s = (f"account:number:60123456789;customer:id:c;customer:ip_address:10.0.0.1;"
         f"general:merchant_callback_url:{url};general:payment_id:{pid}-{i};"
         f"general:project_id:4242;payment:amount:5000;payment:currency:MYR")
    g["signature"] = base64.b64encode(
        hmac.new(b"sandbox-secret-1", s.encode(), hashlib.sha512).digest()).decode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v2/payment/wallet/touchngo/payout",
                                 data=json.dumps(b).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        assert r.status == 200, r.status
print("sent", n)
PY
start_faulty cbpool --callback-retry-scale 1 --callback-delay-ms 0
[ "$(python3 "$T/many.py" "$FPORT" 8 "http://127.0.0.1:$CBPORT/always500" stuck)" = "sent 8" ] ||
    fail "cbpool: stuck payouts"
sleep 0.5
[ "$(python3 "$T/many.py" "$FPORT" 1 "http://127.0.0.1:$CBPORT/cb" fresh)" = "sent 1" ] ||
    fail "cbpool: fresh payout"
for _ in $(seq 30); do grep -q '"id":"fresh-0"' "$T/callbacks" && break; sleep 0.1; done
grep -q '"id":"fresh-0"' "$T/callbacks" || fail "a waiting retry blocked another callback"
stop_faulty
# issue #11 defect 4: attempts in flight never hold up other callbacks, nor SIGTERM. 40
# callbacks go to a receiver that accepts and never answers, then one to a healthy receiver.
cat >"$T/hang.py" <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(256)
print(s.getsockname()[1], flush=True)
held = []
while True:
    held.append(s.accept()[0])  # accept, never read, never answer
PY
python3 "$T/hang.py" >"$T/hangport" 2>/dev/null &
HANG=$!
for _ in $(seq 50); do [ -s "$T/hangport" ] && break; sleep 0.1; done
HANGPORT=$(head -1 "$T/hangport")
[ -n "$HANGPORT" ] || fail "hanging receiver did not start"
start_faulty cbhang --callback-retry-scale 1 --callback-delay-ms 0
[ "$(python3 "$T/many.py" "$FPORT" 40 "http://127.0.0.1:$HANGPORT/cb" hung)" = "sent 40" ] ||
    fail "cbhang: hung payouts"
sleep 0.3
[ "$(python3 "$T/many.py" "$FPORT" 1 "http://127.0.0.1:$CBPORT/cb" healthy)" = "sent 1" ] ||
    fail "cbhang: healthy payout"
t0=$(date +%s%N) # from the accepted payout on: python's own start-up is slow on a busy host
for _ in $(seq 50); do grep -q '"id":"healthy-0"' "$T/callbacks" && break; sleep 0.1; done
grep -q '"id":"healthy-0"' "$T/callbacks" || fail "callbacks to a hung receiver held up a healthy one"
[ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 3000 ] || fail "the healthy callback took over 3 s"
t0=$(date +%s%N)
stop_faulty
[ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 2000 ] || fail "SIGTERM waited for hung callbacks"
kill "$HANG" 2>/dev/null || true
HANG=""
echo "ok"
