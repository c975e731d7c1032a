#!/usr/bin/env bash
# crawl_dist.sh BUILD - the shared crawl (simul-crawl --redis URL --job NAME)
# against a real redis-server (appendonly yes, appendfsync everysec, in a
# temp dir on a free loopback port) and the private nginx over Python's
# documentation (tests/http/nginx.sh). Each case's `--export DIR` must
# equal a single-process crawl's outputs (sorted foundurls.tsv and
# graph.tsv; pages.jsonl by URL without fetch_ms and parent - one of the
# shortest paths', which depends on completion order; depth is the
# shortest distance in both) - so nothing is missing and nothing doubled:
#   - 4 workers at once: 2 processes (epoll, io_uring) x --loops 2;
#   - 4 workers, two of them killed with kill -9 midway, one started again;
#   - 2 workers while redis-server is killed and restarted from its AOF;
#   - SIGINT: exit 130, leases given back at once;
#   - --delay shared by 3 workers; robots.txt and redirects on a small site;
#   - the generated bad-input site (tests/crawl/site.sh) by 2 workers,
#     checked by tests/crawl/check.py against its truth and nginx's log
#     (records, statuses and depths, error kinds, nothing disallowed asked,
#     each URL asked once - a redirect target linked too or reached by two
#     redirects as well -, foundurls.tsv, graph.tsv); and its short/ pages
#     at --depth 4, where the shortest path runs through a slow page: the
#     pages and depths of a BFS exactly;
#   - an unfinished job's export is refused; --redis without --job is a
#     usage error.
# Prints "ok NAME" / "FAIL NAME: why"; exit 1 if any failed.
# shellcheck source=tests/crawl/lib.sh
source "$(dirname "$0")/lib.sh"
need_crawler fail
command -v redis-server >/dev/null || { fail redis "no redis-server"; exit 1; }
docs_site
at_exit 'tests/crawl/site.sh stop "$tmp/gs" >/dev/null 2>&1'
at_exit 'jobs -p | xargs -r kill -9 2>/dev/null'

# redis-server with AOF (appendfsync everysec): tests/redis/redisserver.sh's.
at_exit 'tests/redis/redisserver.sh stop "$tmp/redis" >/dev/null 2>&1'
port=$(REDIS_APPENDFSYNC=everysec tests/redis/redisserver.sh start "$tmp/redis") ||
    { fail redis "did not start"; exit 1; }
# kill -9, and no pid file left for `redisserver.sh restart` to kill again
redis_kill() {
    local p
    p=$(cat "$tmp/redis/redis.pid" 2>/dev/null)
    [[ -n $p ]] && kill -9 "$p" 2>/dev/null && wait_gone "$p" 1000
    rm -f "$tmp/redis/redis.pid"
}
R=redis://127.0.0.1:$port/0

compare() { # name dir
    canon "$2" fetch_ms,parent >"$tmp/$1.canon"
    if cmp -s "$tmp/ref.canon" "$tmp/$1.canon"; then
        ok "$1 ($(grep -m1 '^pages.jsonl' "$tmp/$1.canon"))"
    else
        fail "$1" "$(diff "$tmp/ref.canon" "$tmp/$1.canon" | head -c 600)"
    fi
}
W=( -q --redis "$R" -c 8 --per-host 4 --lease 2 --redis-wait 30 )
worker() { # job backend
    SIMUL_BACKEND=$2 exec "$bin" "${W[@]}" --job "$1" "$seed"   # exec: $! is the crawler
}

export SIMUL_BACKEND=epoll
"$bin" -q -o "$tmp/ref" -c 16 --per-host 16 "$seed"
canon "$tmp/ref" fetch_ms,parent >"$tmp/ref.canon"
grep -q '^pages.jsonl [1-9][0-9][0-9]' "$tmp/ref.canon" || fail reference "too few pages"

# usage: --redis needs --job; --loops is not for --export (a single-process
# crawl takes --loops too: tests/crawl/loops_test.sh)
"$bin" -q --redis "$R" "$seed" 2>/dev/null
[[ $? -eq 2 ]] && ok usage-redis-without-job || fail usage-redis-without-job "not exit 2"
"$bin" -q --loops 2 --redis "$R" --job usage --export "$tmp/usage-export" 2>/dev/null
[[ $? -eq 2 ]] && ok usage-loops-with-export || fail usage-loops-with-export "not exit 2"

# 1. four workers at once: 2 processes x 2 loops (--loops 2)
pids=()
for be in epoll io_uring; do
    SIMUL_BACKEND=$be "$bin" "${W[@]}" --loops 2 --job four "$seed" &
    pids+=($!)
done
rcs=""
for p in "${pids[@]}"; do wait "$p"; rcs+="$? "; done
"$bin" -q --redis "$R" --job four --export "$tmp/four"
rc=$?
[[ $rcs == "0 0 " && $rc -eq 1 ]] || fail four-workers-exit "workers: $rcs export: $rc"
compare four-workers-2x2-loops-equal-single "$tmp/four"

# Waits until job $1 has at least $2 records (mid-crawl), up to 10 s.
wait_recs() { # job n
    for _ in $(seq 1 500); do
        (( $(redis-cli -p "$port" hlen "simul-crawl:{$1}:rec" 2>/dev/null || echo 0) >= $2 )) && return 0
        sleep 0.02
    done
    return 1
}

# 2. four workers, two killed with kill -9 midway (frozen first, while
# they are the only workers and so hold leases), one started again
pids=()
for be in epoll io_uring; do worker killed "$be" & pids+=($!); done
wait_recs killed 20 || fail kill9 "no progress"
# freeze them at a moment when they hold leases (stopped, they cannot
# change anything, so the count is theirs)
for _ in $(seq 1 50); do
    kill -STOP "${pids[0]}" "${pids[1]}"
    held=$(redis-cli -p "$port" zcard "simul-crawl:{killed}:leases")
    ((held > 0)) && break
    kill -CONT "${pids[0]}" "${pids[1]}"
    sleep 0.01
done
echo "# frozen at $(redis-cli -p "$port" hlen "simul-crawl:{killed}:rec") records, $held leases held"
for be in epoll io_uring; do worker killed "$be" & pids+=($!); done
sleep 0.1
kill -9 "${pids[0]}" "${pids[1]}"
worker killed epoll &
pids+=($!)
rcs=""
for p in "${pids[@]:2}"; do wait "$p"; rcs+="$? "; done
wait "${pids[0]}" "${pids[1]}" 2>/dev/null
"$bin" -q --redis "$R" --job killed --export "$tmp/killed"
reclaimed=$(redis-cli -p "$port" hget "simul-crawl:{killed}:stat" reclaimed)
if [[ ${reclaimed:-0} -ge 1 && $rcs == "0 0 0 " ]]; then
    ok "kill9-leases-reclaimed ($reclaimed)"
else
    fail kill9-leases-reclaimed "reclaimed ${reclaimed:-0}, workers: $rcs"
fi
compare kill9-two-workers-equal-single "$tmp/killed"

# 3. redis-server killed and restarted from its AOF mid-crawl (what the
# AOF lost of its last second is redone: each change is one script)
pids=()
for be in epoll io_uring; do worker restart "$be" & pids+=($!); done
wait_recs restart 20 || fail redis-restart "no progress"
kill -STOP "${pids[@]}"   # so the kill falls mid-crawl however loaded the machine is
at=$(redis-cli -p "$port" hlen "simul-crawl:{restart}:rec")
total=$(grep -m1 '^pages.jsonl' "$tmp/ref.canon" | cut -d' ' -f2)
((at < total)) || fail redis-restart-midway "the crawl had finished ($at records)"
echo "# redis-server killed at $at of $total records"
redis_kill
kill -CONT "${pids[@]}"
sleep 0.5
tests/redis/redisserver.sh restart "$tmp/redis" || fail redis-restart "did not start again"
rcs=""
for p in "${pids[@]}"; do wait "$p"; rcs+="$? "; done
[[ $rcs == "0 0 " ]] || fail redis-restart-workers "exits $rcs"
"$bin" -q --redis "$R" --job restart --export "$tmp/restart"
compare redis-restart-equal-single "$tmp/restart"

# SIGINT: the worker stops with exit 130 and gives its leases back at
# once (a 30 s lease would otherwise hold the next worker up)
SIMUL_BACKEND=io_uring "$bin" "${W[@]}" --lease 30 --job sigint "$seed" &
pid=$!
wait_recs sigint 20 || fail sigint "no progress"
kill -INT "$pid"
wait "$pid"
rc=$?
held=$(redis-cli -p "$port" zcard "simul-crawl:{sigint}:leases")
start=$(date +%s%N)
"$bin" "${W[@]}" --job sigint "$seed"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
"$bin" -q --redis "$R" --job sigint --export "$tmp/sigint"
if [[ $rc -eq 130 && $held -eq 0 && $ms -lt 20000 ]]; then
    compare sigint-130-leases-back-equal-single "$tmp/sigint"
else
    fail sigint-130-leases-back "exit $rc, $held leases left, the next worker took $ms ms"
fi

# politeness across workers: 3 workers, --delay 0.02, 40 URLs: the host's
# next-allowed time is shared, so the 40 fetches take >= 39 x 20 ms
# (robots.txt first: one more); alone, one worker would take as long.
start=$(date +%s%N)
pids=()
for be in epoll io_uring epoll; do
    SIMUL_BACKEND=$be "$bin" -q --redis "$R" --job polite -c 8 --delay 0.02 --max-pages 40 "$seed" &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
ms=$(( ($(date +%s%N) - start) / 1000000 ))
"$bin" -q --redis "$R" --job polite --export "$tmp/polite"
n=$(wc -l <"$tmp/polite/pages.jsonl")
u=$(cut -d'"' -f4 "$tmp/polite/pages.jsonl" | sort -u | wc -l)
if [[ $n -eq 40 && $u -eq 40 && $ms -ge 780 ]]; then
    ok "delay-shared-by-workers (40 pages in $ms ms)"
else
    fail delay-shared-by-workers "$n records, $u distinct, $ms ms"
fi

# robots.txt (Disallow, Crawl-delay) and redirects (each URL its record) on a small
# site of its own (nginx.sh's /redir, /redir-loop, /redir-a -> /redir-b
# disallowed): 2 workers equal a single-process crawl without sitemaps
# (a shared crawl reads none).
small_site
"$bin" -q -o "$tmp/site-ref" --no-sitemaps "$U/index.html"
canon "$tmp/site-ref" fetch_ms,parent >"$tmp/site-ref.canon"
pids=()
for be in epoll io_uring; do
    SIMUL_BACKEND=$be "$bin" -q --redis "$R" --job site "$U/index.html" &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
"$bin" -q --redis "$R" --job site --export "$tmp/site"
canon "$tmp/site" fetch_ms,parent >"$tmp/site.canon"
if cmp -s "$tmp/site-ref.canon" "$tmp/site.canon" && grep -q '"error": "robots"' "$tmp/site.canon" &&
   grep -q '"final_url": "'"$U"'/redir-b"' "$tmp/site.canon"; then
    ok "robots-redirects-equal-single ($(grep -m1 '^pages.jsonl' "$tmp/site.canon"))"
else
    fail robots-redirects-equal-single "$(diff "$tmp/site-ref.canon" "$tmp/site.canon" | head -c 800)"
fi
small_site_stop

# --per-host across workers, measured at the server: the generated site's
# slow bulk host (tests/crawl/site.sh) behind the connection meter, 3
# workers (2 processes, one with --loops 2), 8 connections each, --per-host
# 3: the meter never sees more than 3 connections open to the host at once
# (idle keep-alive connections count: each worker had its own, and 4-5
# were seen) - and sees at least 2 at once, so the workers did overlap.
if tests/crawl/site.sh start "$tmp/gs" "$b" --meter >/dev/null; then
    # shellcheck disable=SC1091
    mp=$(source "$tmp/gs/env" && echo "$SITE_PORT")
    meter=$(source "$tmp/gs/env" && echo "$SITE_METER")
    : >"$meter"
    pids=()
    for lp in 2 1; do
        "$bin" -q --redis "$R" --job perhost -c 8 --per-host 3 --loops "$lp" --max-pages 40 \
            --user-agent crawltest/1.0 --retry-wait 0.1 --timeout 5 \
            "http://127.0.0.3:$mp/index.html" &
        pids+=($!)
    done
    rcs=""
    for p in "${pids[@]}"; do wait "$p"; rcs+="$? "; done
    sleep 0.2   # the meter logs the last closes as they happen
    peak=$($PY tests/crawl/connmeter.py --peak "$meter" |
        $PY -c "import json,sys; print(json.load(sys.stdin).get('127.0.0.3:$mp', 0))")
    "$bin" -q --redis "$R" --job perhost --export "$tmp/perhost" 2>/dev/null
    n=$(wc -l <"$tmp/perhost/pages.jsonl" 2>/dev/null || echo 0)
    if [[ $rcs == "0 0 " && $peak -le 3 && $peak -ge 2 && $n -ge 30 ]]; then
        ok "per-host-across-workers-at-the-server (peak $peak connections, $n pages)"
    else
        fail per-host-across-workers-at-the-server "peak $peak (want 2-3), $n pages, workers: $rcs"
    fi
    tests/crawl/site.sh stop "$tmp/gs" >/dev/null 2>&1
else
    fail per-host-across-workers-at-the-server "site.sh start failed"
fi

if tests/crawl/site.sh start "$tmp/gs2" "$b" >/dev/null; then
    # shellcheck disable=SC1091
    source "$tmp/gs2/env"
    at_exit 'tests/crawl/site.sh stop "$tmp/gs2" >/dev/null 2>&1'
    G=( -q --redis "$R" -c 8 --user-agent crawltest/1.0 --retry-wait 0.1 --timeout 5
        --connect-timeout 2 )
    : >"$SITE_LOG"
    pids=()
    for be in epoll io_uring; do
        SIMUL_BACKEND=$be "$bin" "${G[@]}" --job gen --per-host 2 --depth 6 -i "$SITE_SEEDS" &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p"; done
    sleep 0.2   # nginx logs a request as it ends
    "$bin" -q --redis "$R" --job gen --export "$tmp/gen" 2>/dev/null
    $PY tests/crawl/check.py "$SITE_TRUTH" "$tmp/gen" "$SITE_LOG" --prefix gensite-2-workers \
        --only records,pages,status,errors,never,once,robots,found,graph || st=1
    pids=()
    for be in epoll io_uring; do
        SIMUL_BACKEND=$be "$bin" "${G[@]}" --job short --per-host 4 --depth 4 \
            "http://127.0.0.1:$SITE_PORT/short/index.html" &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p"; done
    "$bin" -q --redis "$R" --job short --export "$tmp/short" 2>/dev/null
    got=$($PY -c "
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
print(' '.join(sorted(r['url'].rsplit('/', 1)[1] + ':' + str(r['depth']) for r in recs)))" \
        "$tmp/short/pages.jsonl" 2>/dev/null)
    want="a1.html:1 a2.html:2 a3.html:3 index.html:0 slow.html:1 x.html:2 y.html:3 z.html:4"
    lowered=$(redis-cli -p "$port" hget "simul-crawl:{short}:stat" lowered)
    [[ $got == "$want" ]] && ok "shortest-path-2-workers (${lowered:-0} lowered)" ||
        fail shortest-path-2-workers "got '$got', want '$want'"
    tests/crawl/site.sh stop "$tmp/gs2" >/dev/null 2>&1
else
    fail gensite-2-workers "site.sh start failed"
fi

# an unfinished job (one URL queued by hand): export refused with exit 3
redis-cli -p "$port" rpush "simul-crawl:{restart}:q:x" "u" >/dev/null
redis-cli -p "$port" zadd "simul-crawl:{restart}:hosts" 0 x >/dev/null
"$bin" -q --redis "$R" --job restart --export "$tmp/unfinished" 2>/dev/null
rc=$?
[[ $rc -eq 3 ]] && ok export-unfinished-refused || fail export-unfinished-refused "exit $rc"

exit $st
