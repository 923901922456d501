#!/usr/bin/env bash
# The main job: build paybatch, check the sample payout file, send it to the embedded sandbox
# gateway (a local Gate on loopback: nothing leaves this machine), wait for every result and
# print the result file.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
# paybatch_lib too: `cmake --install build` (README) installs it beside the program
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" --target paybatch paybatch_lib
echo "== paybatch validate samples/payouts-valid.csv"
./build/paybatch validate samples/payouts-valid.csv
echo
echo "== paybatch send --sandbox samples/payouts-valid.csv (a local Gate on a free loopback port)"
rm -f build/sandbox-run.db build/sandbox-run.db-* build/sandbox-run.db.*.lock build/result.csv
# --yes: a rehearsal against the local sandbox; on a terminal send would otherwise ask for the
# number of rows to be typed back before sending
./build/paybatch send --yes --sandbox --state build/sandbox-run.db \
    --wait 60 --out build/result.csv --report build/send-report.json samples/payouts-valid.csv
echo
echo "== the result file (build/result.csv)"
cat build/result.csv
