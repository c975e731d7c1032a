#!/usr/bin/env bash
# tests/examples/run.sh BUILDDIR - checks the walkthrough examples (examples/*.c).
#
# Runs each example from BUILDDIR/examples/ (scaled down with --scale where
# the example sleeps for long) and checks what it prints against
# tests/examples/expected/, which holds the output of the walkthrough's Python
# programs (see expected/README for how it was generated):
#   - exact lines and their order (measured times masked as X.XX, clock
#     times as HH:MM:SS); rand's output byte for byte, ANSI colours included;
#   - exit status 0 and nothing on stderr;
#   - loosely, the elapsed times: countasync ~1 s (0.99 <= t < 2), countsync
#     ~3 s (t >= 2.9), chained's "took"/"finished in" times against the
#     sleeps it announced times the scale.
# Prints one line per check, "ok NAME" or "FAIL NAME: reason", and exits 1 if
# any check failed (2 for a usage error).
#
# Environment: EXAMPLES_SCALE (default 0.05) sets the --scale used;
# EXAMPLES_FULL=1 also runs rand, chained and coro at the walkthrough's real
# speed (about 11 + 11 + 23 more seconds); RUN_TIMEOUT (default 60) is the
# per-run limit in seconds.
set -u

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
    echo "usage: $0 BUILDDIR   (the examples are in BUILDDIR/examples/)" >&2
    exit 2
fi
BIN=$1/examples
EXP=$(cd "$(dirname "$0")" && pwd)/expected
# Sleep multiplier for the slow examples (rand, chained, coro). Their line
# order depends on wake-up order; since simul_sleep() (like asyncio.sleep)
# measures from the real clock, each wake-up's latency shifts a task's later
# deadlines, and makerandom(0) piles up 11 of them. With 50 ms units that
# needs tens of ms of scheduling delay to reorder lines; 20 ms units did
# reorder now and then on a 2-CPU machine with 4 busy loops.
SCALE=${EXAMPLES_SCALE:-0.05}
RUN_TIMEOUT=${RUN_TIMEOUT:-60}     # seconds before a hung example is killed

TMP=$(mktemp -d) || exit 2
trap 'rm -rf "$TMP"' EXIT
failures=0

ok()   { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; failures=$((failures + 1)); }

# mask: the parts of the output that legitimately vary between runs.
mask() {
    sed -E 's/[0-9]+\.[0-9]{2} seconds/X.XX seconds/g; s/[0-9]{2}:[0-9]{2}:[0-9]{2}/HH:MM:SS/g' "$1"
}

# run NAME EXE ARGS...: runs the example into $TMP/NAME.{out,err}, sets
# $wall (seconds) and checks exit status and stderr. Returns 1 if it failed.
run() {
    local name=$1 exe=$2
    shift 2
    if [ ! -x "$BIN/$exe" ]; then
        fail "$name.run" "$BIN/$exe not built"
        return 1
    fi
    local t0 t1 rc
    t0=$(date +%s.%N)
    timeout "$RUN_TIMEOUT" "$BIN/$exe" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
    rc=$?
    t1=$(date +%s.%N)
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    if [ $rc -eq 124 ]; then
        fail "$name.run" "timed out after ${RUN_TIMEOUT}s"
        return 1
    elif [ $rc -ne 0 ]; then
        fail "$name.run" "exit status $rc; stderr: $(head -c 300 "$TMP/$name.err" | tr '\n' ' ')"
        return 1
    elif [ -s "$TMP/$name.err" ]; then
        fail "$name.run" "wrote to stderr: $(head -c 300 "$TMP/$name.err" | tr '\n' ' ')"
        return 1
    fi
    ok "$name.run"
    return 0
}

# check_output NAME EXPECTED: masked output equals the expected file.
check_output() {
    local name=$1 expected=$2
    if mask "$TMP/$name.out" | cmp -s - "$expected"; then
        ok "$name.output"
    else
        fail "$name.output" "differs from $(basename "$expected"): $(mask "$TMP/$name.out" |
            diff "$expected" - | grep '^[<>]' | head -4 | cat -v | tr '\n' '|')"
    fi
}

# check_exact NAME EXPECTED: output equals the expected file byte for byte.
check_exact() {
    local name=$1 expected=$2
    if cmp -s "$TMP/$name.out" "$expected"; then
        ok "$name.exact"
    else
        fail "$name.exact" "not byte-identical to $(basename "$expected"): $(diff "$expected" "$TMP/$name.out" |
            grep '^[<>]' | head -4 | cat -v | tr '\n' '|')"
    fi
}

# check_range NAME VALUE LOW HIGH: LOW <= VALUE < HIGH (HIGH may be "inf").
check_range() {
    local name=$1 v=$2 lo=$3 hi=$4
    if [ -z "$v" ]; then
        fail "$name" "no time found in the output"
    elif awk -v v="$v" -v lo="$lo" -v hi="$hi" 'BEGIN { exit !(v + 0 >= lo + 0 && (hi == "inf" || v + 0 < hi + 0)) }'; then
        ok "$name"
    else
        fail "$name" "$v s is outside [$lo, $hi)"
    fi
}

# ---------------------------------------------------------------------------
# countasync / countsync: real seconds (the whole point is 1 s vs 3 s).

if run countasync countasync; then
    check_output countasync "$EXP/countasync.txt"
    t=$(sed -nE 's/^.* executed in ([0-9]+\.[0-9]{2}) seconds\.$/\1/p' "$TMP/countasync.out")
    check_range countasync.time "$t" 0.99 2
fi

if run countsync countsync; then
    check_output countsync "$EXP/countsync.txt"
    t=$(sed -nE 's/^.* executed in ([0-9]+\.[0-9]{2}) seconds\.$/\1/p' "$TMP/countsync.out")
    check_range countsync.time "$t" 2.9 inf
fi

# ---------------------------------------------------------------------------
# rand: byte for byte, escape sequences included (no times in its output).

if run rand rand --scale "$SCALE"; then
    check_exact rand "$EXP/rand.txt"
    # makerandom(0) sleeps 1 unit 11 times: the run cannot be shorter.
    check_range rand.time "$wall" "$(awk -v s="$SCALE" 'BEGIN { print 11 * s - 0.005 }')" 5
fi

# ---------------------------------------------------------------------------
# chained: lines masked; each chain's "took" must match the two sleeps it
# announced (times the scale), and "finished in" the longest chain.

# check_chained_times NAME: reads $TMP/NAME.out.
check_chained_times() {
    local name=$1
    local bad
    bad=$(awk -v s="$SCALE" '
        /^part1\([-0-9]+\) sleeping for [0-9]+ seconds\.$/ {
            n = $1; sub(/^part1\(/, "", n); sub(/\)$/, "", n); units[n] += $4 }
        /^part2\([-0-9]+, / {
            if ($0 ~ / sleeping for [0-9]+ seconds\.$/) {
                n = $1; sub(/^part2\(/, "", n); sub(/,$/, "", n); units[n] += $(NF - 1) } }
        /^-->Chained result[-0-9]+ => .* \(took [0-9.]+ seconds\)\.$/ {
            n = $2; sub(/^result/, "", n); t = $(NF - 1); sub(/^\(took /, "", t)
            want = units[n] * s; chains++
            if (units[n] > max) max = units[n]
            if (t + 0 < want - 0.005 || t + 0 >= want + 0.5)
                printf "chain %s took %s s, expected ~%.2f; ", n, t, want }
        /^Program finished in [0-9.]+ seconds\.$/ {
            t = $4; want = max * s; fin = 1
            if (t + 0 < want - 0.005 || t + 0 >= want + 0.5)
                printf "program finished in %s s, expected ~%.2f; ", t, want }
        END { if (!chains || !fin) printf "no timing lines found" }
    ' "$TMP/$name.out")
    if [ -z "$bad" ]; then ok "$name.time"; else fail "$name.time" "$bad"; fi
}

if run chained chained --scale "$SCALE"; then
    check_output chained "$EXP/chained.txt"
    check_chained_times chained
fi

if run chained-9-6-3 chained --scale "$SCALE" 9 6 3; then
    check_output chained-9-6-3 "$EXP/chained-9-6-3.txt"
    check_chained_times chained-9-6-3
fi

# ---------------------------------------------------------------------------
# coro: create_task, gather and as_completed; clock times masked, then the
# Start/End pairs checked to be at most a couple of seconds apart.

# check_coro_clock NAME: End - Start of each part, from %X times.
check_coro_clock() {
    local name=$1 bad
    bad=$(awk '
        function secs(x,   a) { split(x, a, ":"); return a[1] * 3600 + a[2] * 60 + a[3] }
        /^Start: [0-9][0-9]:[0-9][0-9]:[0-9][0-9]$/ { start = secs($2); parts++ }
        /^End: [0-9][0-9]:[0-9][0-9]:[0-9][0-9]$/ {
            d = (secs($2) - start + 86400) % 86400; ends++
            if (d > 2) printf "End is %d s after Start; ", d }
        END { if (parts != 2 || ends != 2) printf "expected 2 Start/End pairs, got %d/%d", parts, ends }
    ' "$TMP/$name.out")
    if [ -z "$bad" ]; then ok "$name.clock"; else fail "$name.clock" "$bad"; fi
}

if run coro coro --scale "$SCALE"; then
    check_output coro "$EXP/coro.txt"
    check_coro_clock coro
    # 3 + 10 + 10 units of sleep: at least 23 * scale, and far less than the
    # unscaled 23 s (so --scale works).
    check_range coro.time "$wall" "$(awk -v s="$SCALE" 'BEGIN { print 23 * s - 0.005 }')" 5
fi

# ---------------------------------------------------------------------------
# Optionally, the walkthrough's real timings.

if [ "${EXAMPLES_FULL:-0}" = 1 ]; then
    SCALE=1
    if run rand-full rand; then
        check_exact rand-full "$EXP/rand.txt"
        check_range rand-full.time "$wall" 10.99 13
    fi
    if run chained-9-6-3-full chained 9 6 3; then
        check_output chained-9-6-3-full "$EXP/chained-9-6-3.txt"
        check_chained_times chained-9-6-3-full
    fi
    if run coro-full coro; then
        check_output coro-full "$EXP/coro.txt"
        check_range coro-full.time "$wall" 22.99 26
    fi
fi

if [ $failures -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
fi
exit 0
