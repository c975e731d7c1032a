#!/usr/bin/env bash
# badsite_test.sh BUILDDIR - simul-crawl on the generated bad-input site
# (tests/crawl/gensite.py, served by tests/crawl/site.sh with the
# connection meter in front): every kind of link, hidden links, robots.txt
# rules, redirects, error statuses, faults, non-HTML, a page over the size
# cap, charset traps, traps. Crawls, each checked by tests/crawl/check.py
# against the truth and against what the servers saw:
#   main      all seeds, --depth 6, --per-host 2: the crawl finishes (exit
#             1: pages failed), every truth page recorded once with its
#             status and error kind, blocked ones as "robots", nothing
#             hidden/disallowed/out of scope requested, each page requested
#             once, Retry-After and Crawl-delay kept, never more than 2
#             connections to a host, foundurls.tsv and graph.tsv (networkx)
#             right, peak RSS under $RSS_MB MB (not under ASan)
#   per-host1 the slow bulk host with --per-host 1 -c 8: at most one
#             connection open to it at any moment
#   delay     the bulk host with --per-host 2 --delay 0.2: requests start
#             0.2 s apart or more
#   depth     the traps page with --depth 3: exactly the 11 pages within 3
#             links (the calendar and the ever-deeper path cut off)
#   max-pages the endless calendar with --max-pages 25: at most 25 records,
#             and the crawl ends
#   shortest  short/index.html with --depth 4 -c 8, where the shortest path
#             to x.html runs through a slow page (limit_rate) and a fast
#             chain finds and fetches x first two clicks deeper: exactly
#             the pages a BFS finds within 4 clicks, each with its BFS
#             depth (x lowered after it was fetched: its record patched,
#             its links offered again so y and z are fetched)
#   faults    faultd's paths nginx cannot make, --timeout 0.5 --retries 1
#             --max-size 1 MiB: each recorded with its kind from the man
#             page (timeouts, reset, incomplete, malformed, too_large for a
#             gzip bomb, redirect_scheme for a redirect to file:)
# Prints "ok NAME" / "FAIL NAME: why"; exits 1 if anything failed.
PREFIX=badsite.
# shellcheck source=tests/crawl/lib.sh
source "$(dirname "$0")/lib.sh"
RSS_MB=${CRAWL_TEST_RSS_MB:-64}
need_crawler skip
gen_site --meter
common=(-q --user-agent crawltest/1.0 --retry-wait 0.1 --timeout 5 --connect-timeout 2)

# crawl NAME EXPECTED_EXIT ARGS...: a crawl into $tmp/NAME with fresh logs.
crawl() {
    local name=$1 want=$2 rc
    shift 2
    : >"$SITE_LOG"
    : >"$SITE_METER"
    /usr/bin/time -f '%e %M' -o "$tmp/$name.time" timeout 120 \
        "$bin" "${common[@]}" -o "$tmp/$name" "$@" 2>"$tmp/$name.err"
    rc=$?
    # The meter and nginx write their last lines as the connections close.
    sleep 0.2
    if [[ $rc == "$want" ]]; then
        ok "$name.exit"
    else
        fail "$name.exit" "exit $rc, want $want: $(grep -v '^Command' "$tmp/$name.err" | tail -n 3)"
    fi
    cp "$SITE_LOG" "$tmp/$name.access"
    cp "$SITE_METER" "$tmp/$name.meter"
}
check() { # NAME ARGS...
    local name=$1
    shift
    $PY tests/crawl/check.py "$SITE_TRUTH" "$tmp/$name" "$tmp/$name.access" \
        --prefix "badsite.$name" "$@" || st=1
}

crawl main 1 --depth 6 -c 8 --per-host 2 -i "$SITE_SEEDS"
check main --meter "$tmp/main.meter" --per-host 2
rss=$(awk '{print $NF}' "$tmp/main.time" | tail -n 1)
if [[ $b == *asan* ]]; then
    ok "main.rss (not measured under ASan)"
elif ((rss < RSS_MB * 1024)); then
    ok "main.rss ($((rss / 1024)) MB < $RSS_MB MB)"
else
    fail main.rss "peak RSS $((rss / 1024)) MB, bound $RSS_MB MB"
fi

h3=http://127.0.0.3:$SITE_PORT/index.html
crawl per-host1 0 -c 8 --per-host 1 --max-pages 30 "$h3"
check per-host1 --meter "$tmp/per-host1.meter" --per-host 1 --only per_host,never,records

crawl delay 0 -c 8 --per-host 2 --delay 0.2 --max-pages 12 "$h3"
check delay --delay 0.2 --meter "$tmp/delay.meter" --per-host 2 --only delay,per_host,records

crawl depth 0 --depth 3 -c 4 "http://127.0.0.1:$SITE_PORT/traps.html"
n=$(wc -l <"$tmp/depth/pages.jsonl" 2>/dev/null || echo 0)
[[ $n == 11 ]] && ok depth.pages || fail depth.pages "$n records with --depth 3, want 11"
max=$($PY -c "import json,sys; print(max(json.loads(l)['depth'] for l in open(sys.argv[1])))" \
    "$tmp/depth/pages.jsonl" 2>/dev/null)
[[ $max == 3 ]] && ok depth.max || fail depth.max "deepest record $max, want 3"

crawl max-pages 0 --max-pages 25 -c 4 "http://127.0.0.1:$SITE_PORT/trap/cal?month=1"
n=$(wc -l <"$tmp/max-pages/pages.jsonl" 2>/dev/null || echo 0)
((n >= 20 && n <= 25)) && ok max-pages.pages || fail max-pages.pages "$n records with --max-pages 25"

crawl shortest 0 --depth 4 -c 8 --per-host 4 "http://127.0.0.1:$SITE_PORT/short/index.html"
got=$($PY -c "
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
print(' '.join(sorted(r['url'].rsplit('/', 1)[1] + ':' + str(r['depth']) for r in recs)))" \
    "$tmp/shortest/pages.jsonl" 2>/dev/null)
want="a1.html:1 a2.html:2 a3.html:3 index.html:0 slow.html:1 x.html:2 y.html:3 z.html:4"
[[ $got == "$want" ]] && ok shortest.bfs-pages-and-depths ||
    fail shortest.bfs-pages-and-depths "got '$got', want '$want'"
check shortest --only records,once

f=http://127.0.0.1:$FAULT_PORT
faults=("/never timeout_total timeout_read" "/stall timeout_total timeout_read"
        "/slowloris timeout_total timeout_read" "/gzip-bomb?mib=64 too_large"
        "/redirect-file redirect_scheme" "/bad-chunked malformed" "/big-header malformed"
        "/garbage-status malformed" "/short-body incomplete" "/reset-headers reset"
        "/reset-body reset incomplete")
for x in "${faults[@]}"; do echo "$f${x%% *}"; done >"$tmp/faults.txt"
crawl faults 1 --timeout 0.5 --retries 1 --retry-wait 0.05 --max-size 1048576 -i "$tmp/faults.txt"
for x in "${faults[@]}"; do
    read -r path kinds <<<"$x"
    got=$($PY -c "
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r['url'] == sys.argv[2]:
        print(r['error'])" "$tmp/faults/pages.jsonl" "$f$path" 2>/dev/null)
    if [[ " $kinds " == *" $got "* ]]; then
        ok "faults.$path"
    else
        fail "faults.$path" "error '$got', want one of: $kinds"
    fi
done
exit $st
