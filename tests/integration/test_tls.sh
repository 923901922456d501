#!/usr/bin/env bash
# `paybatch send` over https: TLS verification is always on (a certificate from an unknown CA,
# or for another host name, sends nothing: exit 69, the ledger stays empty), --ca-file trusts
# the test's CA, and HTTP/2 is used when the server offers it. The server is a TLS + HTTP/2
# front (tls_front.js, Node's http2) for the real sandbox; certificates are made here with
# openssl.
set -euo pipefail
: "${PB_SOURCE_DIR:?set by ctest}"
. "$PB_SOURCE_DIR/tests/integration/lib.sh"
export PAYBATCH_SECRET_KEY=tls-test-secret
command -v node >/dev/null || fail "node is needed (scripts/install-deps.sh installs nodejs)"
command -v openssl >/dev/null || fail "openssl is needed (scripts/install-deps.sh installs it)"

# a CA, and a server certificate it signs for 127.0.0.1 only
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=paybatch test CA" \
    -keyout "$T/ca.key" -out "$T/ca.pem" 2>"$T/openssl.err" || fail "openssl: CA"
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$T/srv.key" \
    -out "$T/srv.csr" 2>>"$T/openssl.err" || fail "openssl: CSR"
printf 'subjectAltName=IP:127.0.0.1\n' >"$T/ext"
openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial -days 2 \
    -extfile "$T/ext" -out "$T/srv.pem" 2>>"$T/openssl.err" || fail "openssl: sign"

start_sandbox sb 77
SB=$PORT_sb
node "$PB_SOURCE_DIR/tests/integration/tls_front.js" "$T/srv.key" "$T/srv.pem" "$SB" "$T/proto.log" \
    >"$T/front.out" 2>"$T/front.err" &
PIDS+=($!)
PORT=$(wait_listening "$T/front.out")
[ -n "$PORT" ] || fail "the TLS front did not start"

python3 - "$T/in.csv" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("method,payment_id,amount,currency,customer_id,ip_address,account_number,customer_name\n")
    for i in range(6):
        f.write(f"gcash,tls-{i},{1000 + i},PHP,c{i},198.51.100.{i + 1},09{i:08d}9,Juan Cruz\n")
PY
send() { # send NAME [options...]: exit status in RC
    local t0=$SECONDS
    local name=$1; shift
    set +e
    timeout 60 "$PAYBATCH" send --state "$T/$name.db" --project-id 77 --rate 50 "$@" "$T/in.csv" \
        >"$T/$name.out" 2>"$T/$name.err"
    RC=$?
    echo "  ($name: exit $RC in $((SECONDS - t0)) s)"
    set -e
}
lines() { [ -f "$T/sb.ledger" ] && wc -l <"$T/sb.ledger" || echo 0; }

# ---- 1. a CA nobody told us to trust: nothing leaves, exit 69 ------------------------------
send a --gate-url "https://127.0.0.1:$PORT"
[ "$RC" -eq 69 ] || fail "unknown CA: exit $RC, want 69"
grep -qi "certificate" "$T/a.err" || fail "unknown CA: the message does not name the certificate"
grep -q "TLS certificate was refused" "$T/a.out" || fail "unknown CA: the result line does not say why"
[ "$(lines)" -eq 0 ] || fail "unknown CA: the sandbox recorded payouts"
echo "ok 1 a certificate from an unknown CA: nothing sent, exit 69"

# ---- 2. the right CA, the wrong host name (the certificate is for 127.0.0.1 only) ---------
send b --gate-url "https://localhost:$PORT" --ca-file "$T/ca.pem"
[ "$RC" -eq 69 ] || fail "wrong host name: exit $RC, want 69"
[ "$(lines)" -eq 0 ] || fail "wrong host name: the sandbox recorded payouts"
echo "ok 2 a certificate for another host name: nothing sent, exit 69"

# ---- 3. --ca-file: every row paid once, over HTTP/2 ---------------------------------------
: >"$T/proto.log"
send c --gate-url "https://127.0.0.1:$PORT" --ca-file "$T/ca.pem"
[ "$RC" -eq 0 ] || [ "$RC" -eq 75 ] || fail "--ca-file: exit $RC, want 0 or 75"
[ "$(lines)" -eq 6 ] || fail "--ca-file: $(lines) payouts in the ledger, want 6"
n2=$(grep -c '^2.0 POST' "$T/proto.log" || true)
n1=$(grep -vc '^2.0 ' "$T/proto.log" || true)
[ "$n2" -ge 6 ] && [ "$n1" -eq 0 ] || fail "HTTP/2 not used: $(sort "$T/proto.log" | uniq -c)"
echo "ok 3 --ca-file: 6 rows paid once, every request over HTTP/2 ($n2 requests)"
