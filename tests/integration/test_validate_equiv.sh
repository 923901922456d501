#!/usr/bin/env bash
# Findings, reports, --invalid-out files, summaries and exit codes of `paybatch validate` are
# byte-identical to those of the validator before the fingerprint index (issue 17): on every
# sample, every validator fuzz corpus input and generated files full of duplicates and
# near-collisions (tests/data/validate-equiv/gen.py), read from a file and from a pipe.
# tests/data/validate-equiv/expected.sha256 holds the SHA-256 of each run's output, made by
# the old binary: `bash test_validate_equiv.sh --update` (with PAYBATCH set) rewrites it.
# Every case runs with --threads 1 and --threads 2 (the rows checked on a second thread): both
# must give those outputs, so neither may depend on the other thread or its timing.
set -euo pipefail
: "${PAYBATCH:?set by ctest}" "${PB_SOURCE_DIR:?set by ctest}"
D=$PB_SOURCE_DIR/tests/data/validate-equiv
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir "$T/in"
cp "$PB_SOURCE_DIR"/samples/*.csv "$T/in/"
for f in "$PB_SOURCE_DIR"/tests/fuzz/corpus/validator/*; do cp "$f" "$T/in/corpus-$(basename "$f")"; done
python3 "$D/gen.py" "$T/in"
cd "$T"
: >"$T/got"
for threads in 1 2; do
: >"$T/got"
for f in in/*; do
    name=$(basename "$f")
    for mode in file pipe; do
        rm -f r.json bad.csv
        set +e
        if [ $mode = file ]; then
            "$PAYBATCH" validate -v --threads $threads --max-findings 1000000 --report r.json --invalid-out bad.csv "$f" >out 2>err
        else
            cat "$f" | "$PAYBATCH" validate -v --threads $threads --max-findings 1000000 --report r.json --invalid-out bad.csv /dev/stdin >out 2>err
        fi
        rc=$?
        set -e
        { echo "exit $rc"; cat out; echo "--- report"; cat r.json 2>/dev/null || true;
          echo "--- invalid"; cat bad.csv 2>/dev/null || true; } >result
        echo "$(sha256sum <result | cut -c1-64)  $name $mode" >>"$T/got"
        [ $mode = pipe ] && [ "${KEEP:-}" ] && cp result "$KEEP/$name.$mode" || true
    done
done
if [ "${1:-}" = --update ]; then
    cp "$T/got" "$D/expected.sha256"
    exit 0
fi
diff "$D/expected.sha256" "$T/got" ||
    { echo "FAIL: output with --threads $threads differs from the old validator" >&2; exit 1; }
echo "ok: --threads $threads: $(wc -l <"$T/got") runs identical"
done
