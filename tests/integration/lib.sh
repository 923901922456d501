# lib.sh - what the integration tests share (sourced, not run): a temporary directory $T
# removed at exit with every process started through track(), fail() that shows the tail of
# every *.err / *.out file, and start_sandbox. Set PB_KEEP=1 to keep $T for a post-mortem.
: "${PAYBATCH:?set by ctest}"
T=$(mktemp -d)
PIDS=()
pb_cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$T"
}
trap pb_cleanup EXIT
[ -n "${PB_KEEP:-}" ] && trap - EXIT
fail() {
    echo "FAIL: $*" >&2
    for f in "$T"/*.err "$T"/*.out; do [ -s "$f" ] && { echo "== $f" >&2; tail -8 "$f" >&2; }; done
    exit 1
}
unset PAYBATCH_CONFIG

# wait_listening FILE: the port of the first "listening on [HOST:]PORT" line of FILE (5 s)
wait_listening() {
    for _ in $(seq 100); do grep -q "^listening on" "$1" 2>/dev/null && break; sleep 0.05; done
    sed -n 's/^listening on \(127\.0\.0\.1:\)\{0,1\}\([0-9]*\)$/\2/p' "$1" | head -1
}

# start_sandbox NAME PROJECT [options...]: the sandbox with a ledger $T/NAME.ledger; sets
# PORT_<NAME>
start_sandbox() {
    local name=$1 project=$2 port
    shift 2
    "$PAYBATCH" sandbox --listen 127.0.0.1:0 --project-id "$project" --ledger "$T/$name.ledger" \
        "$@" >"$T/sb-$name.out" 2>"$T/sb-$name.err" &
    PIDS+=($!)
    port=$(wait_listening "$T/sb-$name.out")
    [ -n "$port" ] || fail "sandbox $name did not start"
    eval "PORT_$name=$port"
}
