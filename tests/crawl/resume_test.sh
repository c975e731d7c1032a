#!/usr/bin/env bash
# resume_test.sh BUILDDIR - simul-crawl's promise that a crawl killed at
# any moment and run again ends with exactly the outputs of a crawl never
# interrupted. On the generated site's first host (tests/crawl/site.sh;
# --depth 5, one fetch at a time, 20 ms apart, and no retries, so that an
# uninterrupted crawl is itself deterministic - two are run and must agree
# - and lasts a few seconds):
#   kill9   the same command killed with SIGKILL KILLS times (default 10),
#           each run after a random time (seeded: CRAWL_TEST_SEED) that
#           adds up to about the uninterrupted crawl's, at least half of
#           them mid-crawl; then run until it exits by itself:
#           sorted foundurls.tsv and graph.tsv equal the uninterrupted
#           run's, pages.jsonl equal with fetch_ms masked, no line twice
#   sigint  SIGINT mid-crawl: exit 130, and running it again finishes with
#           the same outputs
# Prints "ok NAME" / "FAIL NAME: why"; exits 1 if anything failed.
PREFIX=resume.
# shellcheck source=tests/crawl/lib.sh
source "$(dirname "$0")/lib.sh"
KILLS=${CRAWL_TEST_KILLS:-10}
SEED=${CRAWL_TEST_SEED:-10}
need_crawler skip
gen_site --huge-mib 1
pid=
at_exit '[[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null'
seed=http://127.0.0.1:$SITE_PORT/index.html
args=(-q --user-agent crawltest/1.0 --retries 0 --timeout 5 --depth 5 -c 1 --per-host 1
      --delay 0.02 "$seed")

# The outputs, made comparable: sorted lines, fetch_ms masked.
norm() { # JOBDIR OUT
    mkdir -p "$2"
    LC_ALL=C sort "$1/foundurls.tsv" >"$2/found" 2>/dev/null
    LC_ALL=C sort "$1/graph.tsv" >"$2/graph" 2>/dev/null
    $PY - "$1/pages.jsonl" >"$2/pages" <<'PY'
import json, sys
out = []
for l in open(sys.argv[1], errors="surrogateescape"):
    try:
        r = json.loads(l)
    except ValueError:
        out.append("BAD LINE " + l.strip())
        continue
    r["fetch_ms"] = 0
    out.append(json.dumps(r, sort_keys=True))
print("\n".join(sorted(out)))
PY
}
same() { # NAME A B
    local f d=""
    for f in found graph pages; do
        cmp -s "$2/$f" "$3/$f" || d+=" $f: $(diff "$2/$f" "$3/$f" | grep -c '^[<>]') lines differ
$(diff "$2/$f" "$3/$f" | head -n 4)"
    done
    local dups
    dups=$(cat "$3/found" "$3/pages" | uniq -d | head -n 3)
    [[ -z $d && -z $dups ]] && ok "$1" || fail "$1" "$d${dups:+; duplicated lines: $dups}"
}

t0=$(date +%s.%N)
timeout 120 "$bin" -o "$tmp/ref" "${args[@]}" 2>"$tmp/ref.err"
rc=$?
t1=$(date +%s.%N)
[[ $rc == 1 ]] && ok reference.exit || fail reference.exit "exit $rc: $(tail -n 3 "$tmp/ref.err")"
norm "$tmp/ref" "$tmp/ref.n"
timeout 120 "$bin" -o "$tmp/ref2" "${args[@]}" 2>/dev/null
norm "$tmp/ref2" "$tmp/ref2.n"
same deterministic "$tmp/ref.n" "$tmp/ref2.n"
n=$(wc -l <"$tmp/ref/pages.jsonl")
((n > 100)) && ok "reference.pages ($n)" || fail reference.pages "only $n records"

# kill -9 at seeded random moments: runs of random length adding up to
# about the uninterrupted crawl's time.
mapfile -t waits < <($PY -c "
import random
r = random.Random($SEED)
span = max(0.5, $t1 - $t0)
print('\n'.join(f'{r.uniform(0.05, 2 * span / $KILLS):.3f}' for _ in range($KILLS)))")
killed=0
for w in "${waits[@]}"; do
    "$bin" -o "$tmp/job" "${args[@]}" 2>>"$tmp/job.err" &
    pid=$!
    sleep "$w"
    kill -KILL "$pid" 2>/dev/null && killed=$((killed + 1))
    wait "$pid" 2>/dev/null
    pid=
done
runs=0
while ((runs < 5)); do
    timeout 120 "$bin" -o "$tmp/job" "${args[@]}" 2>>"$tmp/job.err"
    rc=$?
    runs=$((runs + 1))
    [[ $rc == 0 || $rc == 1 ]] && break
done
[[ $rc == 1 ]] && ok "kill9.exit ($killed kills, then $runs runs)" ||
    fail kill9.exit "exit $rc after $killed kills: $(tail -n 3 "$tmp/job.err")"
((killed * 2 >= KILLS)) && ok kill9.mid-crawl ||
    fail kill9.mid-crawl "only $killed of $KILLS kills landed before the crawl ended"
norm "$tmp/job" "$tmp/job.n"
same kill9 "$tmp/ref.n" "$tmp/job.n"

# SIGINT: exit 130, state saved, the rerun finishes the same crawl.
"$bin" -o "$tmp/int" "${args[@]}" 2>"$tmp/int.err" &
pid=$!
sleep "$($PY -c "print(max(0.1, ($t1 - $t0) / 2))")"
kill -INT "$pid"
wait "$pid"
rc=$?
pid=
[[ $rc == 130 ]] && ok sigint.exit || fail sigint.exit "exit $rc after SIGINT, want 130"
timeout 120 "$bin" -o "$tmp/int" "${args[@]}" 2>>"$tmp/int.err"
rc=$?
[[ $rc == 1 ]] && ok sigint.resumed || fail sigint.resumed "the rerun exited $rc"
norm "$tmp/int" "$tmp/int.n"
same sigint "$tmp/ref.n" "$tmp/int.n"
exit $st
