#!/usr/bin/env bash
# run.sh - the whole suite: every test program in each build directory
# given (normal, ASan+UBSan, ...), the examples' output checks, and the
# examples under valgrind (build-vg). Adds up the cases and ends with the
# line "N passed, M failed". Exit status: 0 only if nothing failed.
#   tests/run.sh build build-asan
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
logdir=$(mktemp -d)
trap 'rm -rf "$logdir"' EXIT

# ASan: fibers are annotated; leaks are errors; UBSan stops at the first error.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

# Backends to run every test program on (SIMUL_BACKEND).
backends=${SIMUL_TEST_BACKENDS:-epoll io_uring}

count() { # label logfile status
    local label=$1 log=$2 st=$3 line p f
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    if [[ -z "$line" ]]; then
        echo "FAIL - $label: no summary (exit $st)"
        tail -n 20 "$log" | sed 's/^/    /'
        failed=$((failed + 1))
        return
    fi
    p=${line%% passed*}
    f=${line#*passed, }
    f=${f%% failed*}
    passed=$((passed + p))
    failed=$((failed + f))
    if [[ $f -ne 0 || $st -ne 0 ]]; then
        grep -E '^FAIL' "$log" | sed "s|^|[$label] |"
        grep -E '^  ' "$log" | head -n 20
        [[ $f -eq 0 ]] && failed=$((failed + 1)) && echo "FAIL - $label: exit $st"
    fi
    echo "$label: $line"
}

for dir in "$@"; do
    for be in $backends; do
        for t in "$dir"/tests/test_*; do
            [[ -x "$t" && -f "$t" ]] || continue
            label="$dir/$(basename "$t")@$be"
            log="$logdir/$(basename "$dir")-$(basename "$t")-$be.log"
            SIMUL_BACKEND=$be "$t" >"$log" 2>&1
            count "$label" "$log" $?
        done
    done
    if [[ -x tests/examples/run.sh && -d "$dir/examples" ]]; then
        log="$logdir/$(basename "$dir")-examples.log"
        tests/examples/run.sh "$dir" >"$log" 2>&1
        st=$?
        p=$(grep -c '^ok ' "$log")
        f=$(grep -c '^FAIL' "$log")
        [[ $st -ne 0 && $f -eq 0 ]] && f=1
        passed=$((passed + p))
        failed=$((failed + f))
        grep '^FAIL' "$log" | sed "s|^|[$dir/examples] |"
        echo "$dir/examples: $p passed, $f failed"
    fi
    # The coordination layer's examples (asyncq, mygen).
    if [[ -x tests/sync/examples.sh && -d "$dir/examples" ]]; then
        log="$logdir/$(basename "$dir")-sync-examples.log"
        tests/sync/examples.sh "$dir" >"$log" 2>&1
        st=$?
        p=$(grep -c '^ok ' "$log")
        f=$(grep -c '^FAIL' "$log")
        [[ $st -ne 0 && $f -eq 0 ]] && f=1
        passed=$((passed + p))
        failed=$((failed + f))
        grep '^FAIL' "$log" | sed "s|^|[$dir/sync-examples] |"
        echo "$dir/sync-examples: $p passed, $f failed"
    fi
done

if [[ -x tests/valgrind.sh && -d build-vg/examples ]]; then
    log="$logdir/valgrind.log"
    tests/valgrind.sh build-vg >"$log" 2>&1
    st=$?
    p=$(grep -c '^ok ' "$log")
    f=$(grep -c '^FAIL' "$log")
    [[ $st -ne 0 && $f -eq 0 ]] && f=1
    passed=$((passed + p))
    failed=$((failed + f))
    grep -A5 '^FAIL' "$log" | head -40
    echo "valgrind: $p passed, $f failed"
fi

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
