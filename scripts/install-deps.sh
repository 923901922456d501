#!/usr/bin/env bash
# Installs every Debian 12 package paybatch needs to build, test, fuzz and benchmark.
# Safe to run again; needs root (or sudo).
set -euo pipefail
pkgs=(build-essential cmake pkg-config
      libcsv-dev libcurl4-openssl-dev libssl-dev libcjson-dev libuv1-dev libhttp-parser-dev
      libsqlite3-dev libinih-dev libcmocka-dev
      libpq-dev postgresql   # the PostgreSQL store and its throw-away test cluster (initdb, pg_ctl)
      clang libclang-rt-14-dev clang-format   # libFuzzer builds, format check
      miller python3 wrk curl      # benchmark baselines and integration-test clients
      nodejs openssl               # the TLS + HTTP/2 test front (test_tls.sh) and its certificates
      man-db)                      # renders docs/paybatch.1 in test_manpage.sh
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
