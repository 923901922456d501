#!/usr/bin/env bash
# Installs every Debian 12 package paybatch needs to build, test, fuzz and benchmark.
# Safe to run again; needs root (or sudo). With --check it installs nothing: it names the
# missing packages and exits 1 (test_readme.sh runs the README's set-up line that way).
set -euo pipefail
pkgs=(build-essential cmake pkg-config
      libcsv-dev libcurl4-openssl-dev libssl-dev libcjson-dev libuv1-dev libhttp-parser-dev
      libsqlite3-dev libinih-dev libcmocka-dev
      libpq-dev postgresql   # the PostgreSQL store and its throw-away test cluster (initdb, pg_ctl)
      clang libclang-rt-14-dev clang-format   # libFuzzer builds, format check
      miller python3 wrk curl      # benchmark baselines and integration-test clients
      nodejs openssl               # the TLS + HTTP/2 test front (test_tls.sh) and its certificates
      man-db                       # renders docs/paybatch.1 in test_manpage.sh
      libxlsxwriter-dev libminizip-dev  # --out-xlsx, and reading the workbook back
      python3-openpyxl unzip       # test_result_xlsx.sh reads the workbook independently
      systemd nginx-light logrotate)  # test_samples.sh: systemd-analyze verify, nginx -t, logrotate -d
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${1:-}" = --check ]; then
  [ ${#missing[@]} -eq 0 ] || { echo "missing Debian packages: ${missing[*]}" >&2; exit 1; }
  exit 0
fi
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  # nginx is only here for `nginx -t` on the sample site: its package must not start (or
  # enable) a web server on this machine. policy-rc.d 101 keeps invoke-rc.d from starting it.
  policy=
  if [[ " ${missing[*]} " == *" nginx-light "* ]] && [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
    policy=1
  fi
  $SUDO apt-get update -qq
  rc=0
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" || rc=$?
  if [ -n "$policy" ]; then
    $SUDO rm -f /usr/sbin/policy-rc.d
    if [ -d /run/systemd/system ]; then
      $SUDO systemctl disable --now nginx.service >/dev/null 2>&1 || true
    fi
  fi
  exit $rc
fi
