#!/usr/bin/env bash
# The operators' samples (samples/): the systemd units pass `systemd-analyze verify` (binary
# path pointed at the built paybatch, the manual of Documentation= found) and are hardened
# (`systemd-analyze security` exposure below 2.0); the nginx site passes `nginx -t` inside a
# throwaway wrapper config with a self-signed certificate (no server is started); the
# logrotate snippet passes `logrotate -d`; the cron lines parse; the example config names
# every key of batch/cli/options.c and, with every key uncommented, is accepted by send,
# listen, status and sandbox. The tools come from scripts/install-deps.sh: a missing one fails.
set -euo pipefail
: "${PAYBATCH:?set by ctest}" "${PB_SOURCE_DIR:?set by ctest}"
S="$PB_SOURCE_DIR/samples"
T=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
PATH=$PATH:/usr/sbin:/sbin
for tool in systemd-analyze nginx logrotate openssl; do
    command -v $tool >/dev/null || fail "$tool is missing (scripts/install-deps.sh installs it)"
done

# ---- 1. systemd units --------------------------------------------------------------------
units=(paybatch-send.service paybatch-send.timer paybatch-reconcile.service
       paybatch-reconcile.timer paybatch-listen.service)
mkdir "$T/units" "$T/man" "$T/man/man1"
for u in "${units[@]}"; do
    [ -f "$S/systemd/$u" ] || fail "samples/systemd/$u is missing"
    # the installed path (cmake --install's default prefix) -> the built binary
    sed "s|/usr/local/bin/paybatch|$PAYBATCH|g" "$S/systemd/$u" >"$T/units/$u"
done
cp "$PB_SOURCE_DIR/docs/paybatch.1" "$T/man/man1/"
out=$(cd "$T/units" && MANPATH="$T/man" systemd-analyze verify "${units[@]}" 2>&1) ||
    fail "systemd-analyze verify: $out"
# unknown keys and other problems are only warnings: none is allowed
[ -z "$out" ] || fail "systemd-analyze verify complains: $out"
for u in paybatch-send.service paybatch-reconcile.service paybatch-listen.service; do
    grep -qx 'User=paybatch' "$T/units/$u" || fail "$u: not run as the unprivileged user"
    for k in ProtectSystem=strict PrivateTmp=yes NoNewPrivileges=yes StateDirectory=paybatch \
        CapabilityBoundingSet=; do
        grep -qx "$k" "$T/units/$u" || fail "$u: no $k"
    done
    grep -q '^ExecStart=.*secret' "$T/units/$u" && fail "$u: a secret on the command line"
    sec=$(cd "$T/units" && systemd-analyze security --offline=yes "$u" 2>&1 | tail -1)
    level=$(printf '%s\n' "$sec" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
    [ -n "$level" ] || fail "$u: systemd-analyze security: $sec"
    awk -v l="$level" 'BEGIN { exit !(l < 2.0) }' || fail "$u: exposure $level (want < 2.0)"
done
grep -qx 'Persistent=yes' "$T/units/paybatch-send.timer" || fail "send timer: not persistent"
echo "ok 1 systemd units verify, hardened (exposure below 2.0)"

# ---- 2. nginx site: nginx -t with a throwaway certificate, nothing started -----------------
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=payouts.example.com -days 2 \
    -keyout "$T/key.pem" -out "$T/cert.pem" 2>"$T/openssl.err" || fail "openssl: $(cat "$T/openssl.err")"
sed -e "s|/etc/ssl/certs/payouts.example.com.pem|$T/cert.pem|" \
    -e "s|/etc/ssl/private/payouts.example.com.key|$T/key.pem|" \
    -e "s|/var/log/nginx/|$T/|" "$S/nginx/paybatch-listen.conf" >"$T/site.conf"
grep -q 'proxy_pass http://paybatch_listen' "$T/site.conf" && grep -q 'server 127.0.0.1:8765' "$T/site.conf" ||
    fail "the nginx site does not pass to 127.0.0.1:8765"
cat >"$T/nginx.conf" <<EOF
worker_processes 1;
pid $T/nginx.pid;
error_log $T/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $T/body;
    proxy_temp_path $T/proxy;
    fastcgi_temp_path $T/fastcgi;
    uwsgi_temp_path $T/uwsgi;
    scgi_temp_path $T/scgi;
    include $T/site.conf;
}
EOF
out=$(nginx -t -q -e "$T/error.log" -p "$T" -c "$T/nginx.conf" 2>&1) || fail "nginx -t: $out"
# nginx -t makes an empty pid file; a running server would have written its pid
[ ! -s "$T/nginx.pid" ] || fail "nginx -t left a server running"
echo "ok 2 nginx site passes nginx -t (TLS in front of 127.0.0.1:8765)"

# ---- 3. logrotate snippet -------------------------------------------------------------------
mkdir "$T/logs"
echo '{"time":"2026-11-29T01:30:00Z","level":"info","event":"log","message":"x"}' >"$T/logs/send.log"
# the user paybatch does not exist here: rotate as the current user
sed -e "s|/var/log/paybatch/|$T/logs/|" -e "s|^    su paybatch paybatch|    su $(id -un) $(id -gn)|" \
    -e "s|^    create 0640 paybatch adm|    create 0640 $(id -un) $(id -gn)|" \
    "$S/logrotate/paybatch" >"$T/logrotate.conf"
out=$(logrotate -d -s "$T/logrotate.state" "$T/logrotate.conf" 2>&1) || fail "logrotate -d: $out"
! printf '%s\n' "$out" | grep -qi 'error' || fail "logrotate -d: $out"
echo "ok 3 logrotate snippet passes logrotate -d"

# ---- 4. cron lines --------------------------------------------------------------------------
n=0
while IFS= read -r line; do
    case "$line" in '' | '#'* | [A-Z]*=*) continue ;; esac
    read -r _ _ _ _ _ user cmd <<<"$line"
    [ -n "$cmd" ] || fail "cron line without 5 times, a user and a command: $line"
    [ "$user" = paybatch ] || fail "cron line not run as paybatch: $line"
    # an unescaped % ends the command in a crontab
    printf '%s' "$cmd" | grep -q '[^\\]%' && fail "cron line with an unescaped %: $line"
    printf '%s\n' "${cmd//\\%/%}" | sh -n || fail "cron command does not parse: $cmd"
    n=$((n + 1))
done <"$S/cron/paybatch.cron"
[ $n -eq 2 ] || fail "$n cron lines, want send and reconcile"
echo "ok 4 cron lines parse"

# ---- 5. the example config: every key, accepted by every command ---------------------------
keys=$(sed -n '/^static const pb__opt pb__opts\[\] = {/,/^};/p' "$PB_SOURCE_DIR/batch/cli/options.c" |
    sed -n 's/^ *{"\([a-z0-9-]*\)",.*/\1/p' | grep -vx 'config\|help')
[ "$(printf '%s\n' "$keys" | wc -l)" -gt 30 ] || fail "cannot read the option table"
for k in $keys; do
    grep -q "^# $k = " "$S/paybatch.conf.example" || fail "paybatch.conf.example: no '# $k = ...'"
done
# every key uncommented (but those given per run: control totals and the plan), paths made
# local, the secret in a 0600 file
printf 'conf-test-secret' >"$T/secret" && chmod 600 "$T/secret"
sed -E -e 's/^# ([a-z][a-z0-9-]*) = /\1 = /' \
    -e "s|^secret-file = .*|secret-file = $T/secret|" -e "s|^state = .*|state = $T/s.db|" \
    -e "s#^(out|out-xlsx|report|invalid-out|ledger) = (.*/)?#\1 = $T/#" \
    -e 's|^dry-run = .*|dry-run = true|' -e 's|^callback-listen = .*|callback-listen = 127.0.0.1:0|' \
    -e 's|^listen = .*|listen = 127.0.0.1:0|' -e "s|^approval-keys = .*|approval-keys = $T/keys|" \
    -E -e '/^(expect-rows|expect-total|control|plan) = /d' \
    "$S/paybatch.conf.example" >"$T/all.conf"
grep -q '^rate = 10$' "$T/all.conf" || fail "the uncommented config is not as expected"
set +e
(cd "$T" && timeout 60 "$PAYBATCH" send --config "$T/all.conf" "$S/payouts-valid.csv") >"$T/send.out" 2>"$T/send.err"
rc=$?
set -e
[ $rc -eq 0 ] || fail "send --dry-run with every key: exit $rc: $(cat "$T/send.err")"
set +e
(cd "$T" && timeout 30 "$PAYBATCH" status --config "$T/all.conf") >"$T/status.out" 2>"$T/status.err"
rc=$?
set -e
[ $rc -ne 78 ] && ! grep -q 'unknown key' "$T/status.err" || fail "status with every key: exit $rc: $(cat "$T/status.err")"
for cmd in listen sandbox; do
    (cd "$T" && exec "$PAYBATCH" $cmd --config "$T/all.conf") >"$T/$cmd.out" 2>"$T/$cmd.err" &
    PIDS+=($!)
    for _ in $(seq 100); do grep -q "^listening on" "$T/$cmd.out" 2>/dev/null && break; sleep 0.05; done
    grep -q "^listening on 127.0.0.1:" "$T/$cmd.out" || fail "$cmd with every key did not start: $(cat "$T/$cmd.err")"
done
echo "ok 5 paybatch.conf.example names every key; send, status, listen and sandbox accept it"
echo "samples: all checks passed"
