#!/usr/bin/env bash
# tests/sync/examples.sh BUILDDIR - checks the coordination layer's
# walkthrough programs, BUILDDIR/examples/{mygen,asyncq}:
#   - mygen prints exactly the walkthrough's two lists (expected/mygen.txt);
#   - asyncq -p 2 -c 5 prints the lines asyncq.py prints under Debian's
#     python3 (expected/asyncq-p2-c5.txt), with the random hex items and the
#     measured times masked;
#   - asyncq -p 5 -c 100: the structure - each producer adds as many items
#     as asyncq.py's producers do (4 0 4 4 8: drawn first, deterministic),
#     one "sleeping" line before each add, every item added is consumed
#     exactly once and nothing else is, waits are >= 0, consumer names are
#     0..99, the last line is "Program completed in N seconds.";
#   - every run exits 0 with nothing on stderr; bad arguments exit 2.
# See expected/README. Prints "ok NAME" / "FAIL NAME: why" per check and
# exits 1 if any failed. EXAMPLES_SCALE (default 0.05) scales the sleeps.
set -u

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
    echo "usage: $0 BUILDDIR" >&2
    exit 2
fi
BIN=$1/examples
EXP=$(cd "$(dirname "$0")" && pwd)/expected
SCALE=${EXAMPLES_SCALE:-0.05}
TMP=$(mktemp -d) || exit 2
trap 'rm -rf "$TMP"' EXIT
failures=0
ok()   { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; failures=$((failures + 1)); }

MASK='s/<[0-9a-f]{10}>/<HEX>/g; s/in [0-9]+\.[0-9]{5} seconds/in X.XXXXX seconds/; s/completed in [0-9.]+ seconds/completed in X.XXXXX seconds/'

# run NAME EXE ARGS...: output in $TMP/NAME.out; checks status and stderr.
run() {
    local name=$1 exe=$2
    shift 2
    if [ ! -x "$BIN/$exe" ]; then
        fail "$name.run" "$BIN/$exe not built"
        return 1
    fi
    timeout 60 "$BIN/$exe" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
    local rc=$?
    if [ $rc -ne 0 ]; then
        fail "$name.run" "exit status $rc: $(head -c 300 "$TMP/$name.err" | tr '\n' ' ')"
        return 1
    elif [ -s "$TMP/$name.err" ]; then
        fail "$name.run" "wrote to stderr: $(head -c 300 "$TMP/$name.err" | tr '\n' ' ')"
        return 1
    fi
    ok "$name.run"
}

# ---- mygen
if run mygen mygen --scale "$SCALE"; then
    if cmp -s "$TMP/mygen.out" "$EXP/mygen.txt"; then
        ok mygen.output
    else
        fail mygen.output "$(diff "$EXP/mygen.txt" "$TMP/mygen.out" | head -5 | tr '\n' ' ')"
    fi
fi

# ---- asyncq -p 2 -c 5: the lines of asyncq.py
if run asyncq-p2-c5 asyncq -p 2 -c 5 --scale "$SCALE"; then
    sed -E "$MASK" "$TMP/asyncq-p2-c5.out" >"$TMP/p2.masked"
    if cmp -s "$TMP/p2.masked" "$EXP/asyncq-p2-c5.txt"; then
        ok asyncq-p2-c5.output
    else
        fail asyncq-p2-c5.output "$(diff "$EXP/asyncq-p2-c5.txt" "$TMP/p2.masked" | head -6 | tr '\n' ' ')"
    fi
fi

# ---- asyncq -p 5 -c 100: structure
if run asyncq-p5-c100 asyncq -p 5 -c 100 --scale "$SCALE"; then
    out=$TMP/asyncq-p5-c100.out
    # (no {n} intervals: mawk does not know them)
    why=$(awk -v want="4 0 4 4 8" '
        /^Producer [0-9]+ sleeping for [0-9]+ seconds\.$/ { sleeps[$2]++; next }
        /^Producer [0-9]+ added <[0-9a-f]+> to queue\.$/ {
            if (length($4) != 12) { print "bad item " $4; bad = 1 }
            adds[$2]++; if (added[$4]++) { print "item added twice: " $4; bad = 1 }
            if (adds[$2] > sleeps[$2]) { print "add without a sleep before it"; bad = 1 }
            next }
        /^Consumer [0-9]+ sleeping for [0-9]+ seconds\.$/ {
            if ($2 < 0 || $2 > 99) { print "bad consumer " $2; bad = 1 }; next }
        /^Consumer [0-9]+ got element <[0-9a-f]+> in [0-9]+\.[0-9]+ seconds\.$/ {
            if (!added[$5]) { print "consumed before added: " $5; bad = 1 }
            if (got[$5]++) { print "consumed twice: " $5; bad = 1 }
            next }
        /^Program completed in [0-9]+\.[0-9]+ seconds\.$/ { last = NR; next }
        { print "unexpected line: " $0; bad = 1 }
        END {
            if (last != NR) { print "no final line"; bad = 1 }
            n = split(want, w, " ")
            for (p = 0; p < n; p++)
                if (adds[p] + 0 != w[p + 1]) { print "producer " p " added " adds[p] + 0 ", want " w[p + 1]; bad = 1 }
            for (i in added) if (!got[i]) { print "never consumed: " i; bad = 1 }
            for (i in got) total++
            if (total != 20) { print "consumed " total " items, want 20"; bad = 1 }
            exit bad
        }' "$out" | head -3 | tr '\n' ' ')
    if [ -z "$why" ]; then ok asyncq-p5-c100.structure; else fail asyncq-p5-c100.structure "$why"; fi
fi

# ---- bad arguments
for args in "-p" "-p -1" "-c x" "--scale -1" "--bogus"; do
    # shellcheck disable=SC2086
    timeout 10 "$BIN/asyncq" $args >/dev/null 2>"$TMP/usage.err"
    rc=$?
    if [ $rc -eq 2 ] && grep -q usage "$TMP/usage.err"; then
        ok "asyncq.usage($args)"
    else
        fail "asyncq.usage($args)" "exit $rc"
    fi
done

[ $failures -eq 0 ]
