#!/usr/bin/env bash
# loops_test.sh BUILDDIR - simul-crawl --loops N without --redis: loop 0
# keeps the crawl's state and hands fetches (HTTP, parsing) to the others
# (tools/crawl/crawl.c: remote_fetch). What must hold is that nothing of
# the outputs depends on N:
#   badsite   the generated bad-input site (tests/crawl/site.sh) crawled
#             as badsite_test.sh's "main" case with --loops 2: check.py's
#             every check (the truth's pages, statuses, error kinds,
#             nothing disallowed requested, each page once, Retry-After,
#             Crawl-delay, never more than 2 connections to a host,
#             foundurls.tsv, graph.tsv), and the same outputs as --loops 1
#             (pages.jsonl by URL without fetch_ms, and parent - one of the
#             pages at the shortest distance, which depends on completion
#             order at -c > 1 - and the byte count of a body cut at
#             --max-size; sorted lines)
#   per-host1 its slow bulk host with --per-host 1 --loops 3: still at most
#             one connection open to it (the loops share a host's limit)
#   docs      the Python documentation (tests/http/nginx.sh): --loops 2
#             equals --loops 1 at -c 16 (on each backend), and at -c 1
#             (one order: every field but fetch_ms)
#   kill9     --loops 2 killed with kill -9 at random moments and run
#             again until it ends: the uninterrupted run's outputs
#   sigint    --loops 2 and SIGINT: exit 130, then the next run finishes
#             with the same outputs
#   usage     --loops with --export: exit 2
#   tsan      (BUILDDIR's sibling build-tsan, if built) a --loops 2 crawl
#             of the bad site and of the documentation under
#             ThreadSanitizer, and one stopped by SIGINT with fetches in
#             flight on loop 1 (then finished by the normal build): no
#             race reported (halt_on_error: exit 66), outputs as
#             --loops 1's
# Prints "ok NAME" / "FAIL NAME: why"; exits 1 if anything failed.
PREFIX=loops.
# shellcheck source=tests/crawl/lib.sh
source "$(dirname "$0")/lib.sh"
need_crawler skip
export TSAN_OPTIONS="halt_on_error=1${TSAN_OPTIONS:+:$TSAN_OPTIONS}"

# same NAME DIR_A DIR_B MASK: the outputs of two jobs agree. (A body cut
# at --max-size counts the bytes that came before the cut: how many depends
# on how they arrived, in any run, so too_large records' bytes are masked.)
same() {
    canon "$2" "$4" | sed -E '/"error": "too_large"/ s/"bytes": [0-9]+/"bytes": "cut"/' >"$tmp/a.canon"
    canon "$3" "$4" | sed -E '/"error": "too_large"/ s/"bytes": [0-9]+/"bytes": "cut"/' >"$tmp/b.canon"
    if cmp -s "$tmp/a.canon" "$tmp/b.canon"; then
        ok "$1 ($(grep -m1 '^pages.jsonl' "$tmp/a.canon"))"
    else
        fail "$1" "$(diff "$tmp/a.canon" "$tmp/b.canon" | head -c 600)"
    fi
}

# ---- the generated bad-input site ---------------------------------------------
gen_site --meter
common=(-q --user-agent crawltest/1.0 --retry-wait 0.1 --timeout 5 --connect-timeout 2)
site() { # NAME BIN ARGS...: a crawl with fresh logs; prints its exit status
    local name=$1 exe=$2
    shift 2
    : >"$SITE_LOG"
    : >"$SITE_METER"
    timeout 300 "$exe" "${common[@]}" -o "$tmp/$name" "$@" 2>"$tmp/$name.err"
    echo $?
    sleep 0.2   # the meter and nginx write their last lines as connections close
    cp "$SITE_LOG" "$tmp/$name.access"
    cp "$SITE_METER" "$tmp/$name.meter"
}
main_args=(--depth 6 -c 8 --per-host 2 -i "$SITE_SEEDS")
rc1=$(site bad1 "$bin" "${main_args[@]}")
rc2=$(site bad2 "$bin" --loops 2 "${main_args[@]}")
if [[ $rc1 == 1 && $rc2 == 1 ]]; then
    ok badsite.exit
else
    fail badsite.exit "exits $rc1 (--loops 1), $rc2 (--loops 2), want 1: $(tail -n 2 "$tmp/bad2.err")"
fi
$PY tests/crawl/check.py "$SITE_TRUTH" "$tmp/bad2" "$tmp/bad2.access" --prefix loops.badsite \
    --meter "$tmp/bad2.meter" --per-host 2 || st=1
same badsite.same "$tmp/bad1" "$tmp/bad2" fetch_ms,parent

h3=http://127.0.0.3:$SITE_PORT/index.html
rc=$(site ph1 "$bin" --loops 3 -c 8 --per-host 1 --max-pages 30 "$h3")
[[ $rc == 0 ]] && ok per-host1.exit || fail per-host1.exit "exit $rc"
$PY tests/crawl/check.py "$SITE_TRUTH" "$tmp/ph1" "$tmp/ph1.access" --prefix loops.per-host1 \
    --meter "$tmp/ph1.meter" --per-host 1 --only per_host,never,records || st=1

tsan=$(dirname "$b")/build-tsan/tools/simul-crawl
if [[ -x $tsan ]]; then
    rc=$(site badt "$tsan" --loops 2 "${main_args[@]}")
    if [[ $rc == 1 ]] && ! grep -q 'ThreadSanitizer' "$tmp/badt.err"; then
        ok tsan.badsite
    else
        fail tsan.badsite "exit $rc: $(grep -A12 -m1 'WARNING: ThreadSanitizer' "$tmp/badt.err" | head -c 1500)"
    fi
    same tsan.badsite.same "$tmp/bad1" "$tmp/badt" fetch_ms,parent
fi

# ---- the documentation -----------------------------------------------------------
docs_site
"$bin" -q -o "$tmp/d1" -c 16 --per-host 16 "$seed"
rc1=$?
for be in ${SIMUL_TEST_BACKENDS:-epoll io_uring}; do
    SIMUL_BACKEND=$be "$bin" -q -o "$tmp/d2-$be" -c 16 --per-host 16 --loops 2 "$seed"
    rc2=$?
    [[ $rc1 == 1 && $rc2 == 1 ]] && ok "docs.$be.exit" ||
        fail "docs.$be.exit" "exits $rc1, $rc2 (want 1: a 404)"
    same "docs.$be.same" "$tmp/d1" "$tmp/d2-$be" fetch_ms,parent
done
"$bin" -q -o "$tmp/o1" -c 1 "$seed"
"$bin" -q -o "$tmp/o2" -c 1 --loops 2 "$seed"
same docs.c1.same "$tmp/o1" "$tmp/o2" fetch_ms

# kill -9 at 0.01-0.19 s, up to 11 times, then run to the end
dir=$tmp/k2 rc=137 i=0
while [[ $rc -eq 137 ]] && ((i < 12)); do
    "$bin" -q -o "$dir" --commit-interval 0.03 -c 4 --per-host 4 --loops 2 "$seed" &
    pid=$!
    sleep "0.$((RANDOM % 2))$((RANDOM % 9 + 1))"
    ((i < 11)) && kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    rc=$?
    i=$((i + 1))
done
[[ $rc == 1 && $i -ge 2 ]] && ok "kill9.exit ($i runs)" || fail kill9.exit "exit $rc after $i runs"
same kill9.same "$tmp/d1" "$dir" fetch_ms,parent

# SIGINT: 130 and the state saved (2 ms between requests: the crawl lasts)
"$bin" -q -o "$tmp/int" --loops 2 --delay 0.002 "$seed" &
pid=$!
sleep 0.3
kill -INT "$pid"
wait "$pid"
rc=$?
"$bin" -q -o "$tmp/int" --loops 2 --delay 0.002 "$seed"
rc2=$?
[[ $rc == 130 && $rc2 == 1 ]] && ok sigint.exit || fail sigint.exit "exits $rc, $rc2 (want 130, 1)"
same sigint.same "$tmp/d1" "$tmp/int" fetch_ms,parent

"$bin" -q --loops 2 --redis redis://127.0.0.1:1/0 --job x --export "$tmp/x" >/dev/null 2>&1
rc=$?
[[ $rc == 2 ]] && ok usage.export || fail usage.export "exit $rc, want 2"

if [[ -x $tsan ]]; then
    "$tsan" -q -o "$tmp/dt" -c 8 --per-host 8 --loops 2 "$seed" 2>"$tmp/dt.err"
    rc=$?
    if [[ $rc == 1 ]] && ! grep -q 'ThreadSanitizer' "$tmp/dt.err"; then
        ok tsan.docs
    else
        fail tsan.docs "exit $rc: $(grep -A12 -m1 'WARNING: ThreadSanitizer' "$tmp/dt.err" | head -c 1500)"
    fi
    same tsan.docs.same "$tmp/d1" "$tmp/dt" fetch_ms,parent
    # SIGINT with fetches in flight on loop 1 (cancelled there: remote_cancel)
    "$tsan" -q -o "$tmp/dti" -c 16 --per-host 16 --loops 2 "$seed" 2>"$tmp/dti.err" &
    pid=$!
    sleep 1.5
    kill -INT "$pid"
    wait "$pid"
    rc=$?
    "$bin" -q -o "$tmp/dti" -c 16 --per-host 16 --loops 2 "$seed"
    rc2=$?
    if [[ $rc == 130 && $rc2 == 1 ]] && ! grep -q 'ThreadSanitizer' "$tmp/dti.err"; then
        ok tsan.sigint
    else
        fail tsan.sigint "exits $rc, $rc2 (want 130, 1): $(grep -A12 -m1 'WARNING: ThreadSanitizer' "$tmp/dti.err" | head -c 1500)"
    fi
    same tsan.sigint.same "$tmp/d1" "$tmp/dti" fetch_ms,parent
fi
exit $st
