#!/usr/bin/env bash
# run.sh - every benchmark suite of simul, one after another (`make bench`).
#
#   bench/run.sh              all suites
#   bench/run.sh core ...     only the named suites (run-NAME.sh)
#
# A suite is a script bench/run-NAME.sh that prints its own table and writes
# bench/results/NAME.json. To add one, append its name to SUITES.
set -uo pipefail
cd "$(dirname "$0")" || exit 1

SUITES=(
    core    # run-core.sh: switch, spawn+join, parked, timers vs asyncio/uvloop/Go
    coordination  # run-coordination.sh: queue, ping-pong, semaphore vs Go/asyncio/uvloop
    io      # run-io.sh: echo server, 100 and 1000 connections, vs libuv/Go/uvloop/asyncio
    io-sys  # run-io-sys.sh: thread pool round trip, file appends vs asyncio/uvloop/aiofiles
    http    # run-http.sh: fetching 10,600 pages from nginx vs curl -Z/aiohttp/Go (wrk: ceiling); areq vs areq.py
    pg      # run-pg.sh: PostgreSQL vs asyncpg, psycopg 3 async and plain libpq
    cores   # run-cores.sh: a channel between 2 loops vs Go's; echo on 2 loops vs libuv/Go
    crawl   # run-crawl.sh: crawling the 20x docs mirror vs wget2/Scrapy/areq.py/curl -Z
    redis   # run-redis.sh: Redis vs redis-benchmark, hiredis (sync, async), redis-py asyncio
    crawl-dist  # run-crawl-dist.sh: the shared crawl through Redis, 1/2/4 workers; Redis cost per page
)

sel=("$@")
((${#sel[@]})) || sel=("${SUITES[@]}")

status=0
for s in "${sel[@]}"; do
    script=./run-$s.sh
    if [[ ! -f $script ]]; then
        echo "run.sh: no suite '$s' ($script)" >&2
        status=1
        continue
    fi
    echo "=== bench: $s"
    bash "$script" || { echo "run.sh: suite '$s' failed" >&2; status=1; }
done
exit $status
