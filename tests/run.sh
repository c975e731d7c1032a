#!/usr/bin/env bash
# run.sh - the whole suite: every test program in each build directory
# given (normal, ASan+UBSan, ...), the examples' output checks, the public
# headers compiled alone (C11 and C++), the Makefile's package installs,
# and the examples under valgrind (build-vg). Adds up the cases and ends with the
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

# How long the program or script just run took (t0 is set before each).
t0=$EPOCHREALTIME
took() { printf '%.1f s' "$(awk "BEGIN { print $EPOCHREALTIME - $t0 }")"; }

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
    echo "$label: $line ($(took))"
}

# Runs a script that prints "ok NAME" / "FAIL ...: why" lines and adds
# them up. A non-zero exit with no FAIL line counts as one failure.
tally() { # label script args...
    local label=$1 script=$2 log st p f
    shift 2
    log="$logdir/${label//\//-}.log"
    t0=$EPOCHREALTIME
    "$script" "$@" >"$log" 2>&1
    st=$?
    p=$(grep -c '^ok ' "$log")
    f=$(grep -c '^FAIL' "$log")
    [[ $st -ne 0 && $f -eq 0 ]] && f=1
    passed=$((passed + p))
    failed=$((failed + f))
    grep -A5 '^FAIL' "$log" | head -n 40 | sed "s|^|[$label] |"
    echo "$label: $p passed, $f failed ($(took))"
}

for dir in "$@"; do
    for be in $backends; do
        for t in "$dir"/tests/test_*; do
            [[ -x "$t" && -f "$t" ]] || continue
            label="$dir/$(basename "$t")@$be"
            log="$logdir/$(basename "$dir")-$(basename "$t")-$be.log"
            t0=$EPOCHREALTIME
            SIMUL_BACKEND=$be "$t" >"$log" 2>&1
            count "$label" "$log" $?
        done
    done
    # What each layer's examples print and do.
    for script in tests/examples/run.sh tests/sync/examples.sh tests/io/examples.sh; do
        [[ -x $script && -d "$dir/examples" ]] || continue
        tally "$dir/$(basename "$(dirname "$script")")-examples" "$script" "$dir"
    done
    # The HTTP tests' fault server (DIR/tests/faultd) as curl sees it.
    tally "$dir/http-faultd" tests/http/faultd_test.sh "$dir"
    # DNS failure and no route, in a network namespace of their own.
    tally "$dir/http-netns" tests/http/netns.sh "$dir"
    # areq beside the walkthrough's areq.py (nginx on loopback).
    tally "$dir/areq" tests/http/areq.sh "$dir"
    # simul-crawl on the generated bad-input site (tests/crawl/run.sh).
    tally "$dir/crawl" tests/crawl/run.sh "$dir"
    # simul-crawl end to end: every page once, graph.tsv, resume after kill -9.
    tally "$dir/crawl-core" tests/crawl/crawl_core.sh "$dir"
    # the shared crawl through Redis: 4 workers, kill -9, a Redis restart.
    tally "$dir/crawl-dist" tests/crawl/crawl_dist.sh "$dir"
    # simul-crawl --pg: its tables equal its files, after kill -9 and a server restart.
    tally "$dir/crawl-pg" tests/crawl/crawl_pg.sh "$dir"
done

# Every public header alone, as C11 and as C++ (no build directory needed).
tally headers tests/headers.sh
# Package installs: only by the jobs that run things, said, only what is missing.
tally packages tests/packages.sh
# What libsimul.so exports: the public API only (in the first, normal build).
tally exports tests/exports.sh "${1:-build}"

# The HTTP tests' nginx (tests/http/nginx.sh: HTTP/1.1, TLS with a CA
# made at start, HTTP/2, gzip) and the corpus, checked with curl.
tally http-nginx tests/http/nginx_test.sh

# The README's install path: make install into a temporary prefix, build
# its first program with pkg-config, run it.
if [[ -x tests/install.sh && -f Makefile ]]; then
    tally install tests/install.sh
fi

# The programs that run loops on several threads, under ThreadSanitizer
# (build-tsan): a data race report makes the case fail (TSan exits 66).
# Only these: TSan makes everything several times slower, and the timing
# assertions of the others (test_pool) do not hold under it.
export TSAN_OPTIONS="halt_on_error=1${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
if [[ -d build-tsan/tests ]]; then
    for be in $backends; do
        for name in ${SIMUL_TSAN_TESTS:-test_threads test_loop test_signal test_future test_loops test_chan test_server_loops}; do
            t=build-tsan/tests/$name
            [[ -x "$t" ]] || continue
            label="build-tsan/$name@$be"
            log="$logdir/tsan-$name-$be.log"
            t0=$EPOCHREALTIME
            SIMUL_BACKEND=$be "$t" >"$log" 2>&1
            count "$label" "$log" $?
        done
    done
fi

# The examples under valgrind memcheck (build-vg registers task stacks).
if [[ -x tests/valgrind.sh && -d build-vg/examples ]]; then
    tally valgrind tests/valgrind.sh build-vg
fi

# The fuzz targets, briefly (ASan+UBSan; `make fuzz` runs them at length).
if [[ -x scripts/fuzz.sh ]]; then
    tally fuzz scripts/fuzz.sh "${SIMUL_TEST_FUZZ_SECONDS:-10}"
fi

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
