#!/usr/bin/env bash
# The main job: build paybatch and run it on the sample batch. Until `send` exists this
# validates the sample payout file (and shows what an invalid one looks like).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" --target paybatch
echo "== paybatch validate samples/payouts-valid.csv"
./build/paybatch validate --report build/validate-report.json samples/payouts-valid.csv
echo "(JSON report: build/validate-report.json)"
