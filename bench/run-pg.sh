#!/usr/bin/env bash
# run-pg.sh - the PostgreSQL benchmarks, simul beside its peers in one run,
# against one PostgreSQL 15 this script starts (tests/pg/pgserver.sh: a
# temporary directory, a free loopback port; stopped at exit), over TCP on
# loopback for every client:
#
#   simul   build/bench/pg simul ... (bench/pg.c on libsimul)
#   libpq   build/bench/pg libpq ... (plain synchronous libpq: the floor)
#   asyncpg bench/peers/pg_py.py asyncpg ... (python3-asyncpg 0.27), on
#           asyncio and on uvloop (asyncpg+uvloop: python3-uvloop 0.17)
#   psycopg bench/peers/pg_py.py psycopg ... (python3-psycopg 3.1, async)
#
#   raw     build/bench/pg raw|raw-describe insert ... (insert only: the
#           protocol bytes built before the clock starts and written by
#           hand - the server's floor for pipelined INSERTs)
#
# Benches (N): select1 (SELECT 1 round trips on one connection; 20,000),
# params1 (20,000 parameterised queries on one connection, one after the
# other), params (10 connections x 10,000 parameterised queries), insert
# (100,000 pipelined INSERTs in one transaction: simul_pg_executemany,
# asyncpg's and psycopg's executemany, libpq's pipeline mode), insert_tasks
# (simul only: the same from 100 tasks on one connection in pipeline mode),
# fetch (one SELECT of 1,000,000 rows, every value read), copy (COPY of
# 1,000,000 rows FROM STDIN). Each runs REPEAT times (default 3), the
# clients of one round one after the other; the median wall time, CPU time
# (the client process's) and server CPU time are kept, and the ratios pair
# each round's runs (bench/pg_summary.py). Server CPU: the
# postmaster's reaped children plus its live ones (utime + stime from
# /proc), read before the client starts and once its backends have exited,
# so it includes their start and exit. The load average is recorded. Results:
# bench/results/pg.json.
#
# Environment: REPEAT, SIMUL_BENCH_NO_MAKE=1, SIMUL_BENCH_NO_INSTALL=1,
# PG_BENCH_ONLY="select1 params" (a subset), PG_BENCH_SCALE (divides N),
# PG_BENCH_BASE=PATH (another build of bench/pg, e.g. main's, run as the
# row "simul-base" in each round beside simul: before/after in one run),
# PG_BENCH_OUT (the JSON's path, default bench/results/pg.json),
# PG_BENCH_IMPLS="simul asyncpg raw" (a subset of the clients).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
REPEAT=${REPEAT:-3}
SCALE=${PG_BENCH_SCALE:-1}
BENCHES=${PG_BENCH_ONLY:-select1 params1 params insert insert_tasks fetch copy}
log() { echo "run-pg: $*" >&2; }
PY=/usr/bin/python3   # Debian's, where python3-asyncpg and python3-psycopg are

if [[ -z ${SIMUL_BENCH_NO_INSTALL:-} ]]; then
    scripts/deps.sh bench >&2 || log "scripts/deps.sh failed; going on with what is installed"
fi
if [[ -z ${SIMUL_BENCH_NO_MAKE:-} && -f Makefile ]]; then
    make -s >&2 || log "make failed"
fi
[[ -x build/bench/pg ]] || { log "no build/bench/pg (ninja -C build)"; exit 1; }

dir=$(mktemp -d /tmp/simul-pgbench-XXXXXX)
trap 'tests/pg/pgserver.sh stop "$dir"' EXIT
port=$(tests/pg/pgserver.sh start "$dir") || exit 1
ci="host=127.0.0.1 port=$port user=postgres dbname=postgres"
dsn="postgresql://postgres@127.0.0.1:$port/postgres"
psql=/usr/lib/postgresql/15/bin/psql
sql() { PGOPTIONS="-c client_min_messages=warning" "$psql" "$ci" -qAt -c "$1" >/dev/null; }
# The server's CPU seconds so far: the postmaster's reaped children and its
# live ones (clock ticks in /proc/PID/stat fields 14-17).
pm=$(head -n 1 "$dir/data/postmaster.pid")
hz=$(getconf CLK_TCK)
server_cpu() {
    local t=0 f
    # a client's backends exit after it does: wait (up to 5 s) until the
    # postmaster has reaped them (no child with a client's title left), so
    # their time is in its cutime
    for _ in $(seq 50); do
        pgrep -f -P "$pm" '127\.0\.0\.1\(' >/dev/null || break
        sleep 0.1
    done
    read -ra f <"/proc/$pm/stat" && t=$(( f[15] + f[16] ))
    for k in $(pgrep -P "$pm"); do
        read -ra f <"/proc/$k/stat" 2>/dev/null && t=$(( t + f[13] + f[14] ))
    done
    echo $t
}

declare -A N=([select1]=20000 [params1]=20000 [params]=100000 [insert]=100000
              [insert_tasks]=100000 [fetch]=1000000 [copy]=1000000)
impls="simul libpq asyncpg asyncpg+uvloop psycopg"
base=${PG_BENCH_BASE:-}
[[ -n $base ]] && impls="simul-base $impls"
$PY -c 'import asyncpg' 2>/dev/null || { log "python3-asyncpg missing: asyncpg left out"; impls=${impls//asyncpg+uvloop/}; impls=${impls/asyncpg/}; }
$PY -c 'import uvloop' 2>/dev/null || { log "python3-uvloop missing: asyncpg+uvloop left out"; impls=${impls//asyncpg+uvloop/}; }
$PY -c 'import psycopg' 2>/dev/null || { log "python3-psycopg missing: psycopg left out"; impls=${impls/psycopg/}; }

raw=$(mktemp)
for b in $BENCHES; do
    n=$(( ${N[$b]} / SCALE ))
    for rep in $(seq "$REPEAT"); do
        these=$impls
        [[ $b == insert ]] && these="$these raw raw-describe"
        if [[ -n ${PG_BENCH_IMPLS:-} ]]; then   # a subset of the clients
            keep=
            for impl in $these; do [[ " $PG_BENCH_IMPLS " == *" $impl "* ]] && keep="$keep $impl"; done
            these=$keep
        fi
        for impl in $these; do
            # simul's pipeline mode only
            [[ $b == insert_tasks && $impl != simul && $impl != simul-base ]] && continue
            sql "DROP TABLE IF EXISTS bench_t; CREATE TABLE bench_t(id int, name text)"
            sql "CHECKPOINT"
            s0=$(server_cpu)
            case $impl in
                simul-base) out=$("$base" simul "$b" "$n" "$ci") ;;
                simul|libpq|raw|raw-describe) out=$(build/bench/pg "$impl" "$b" "$n" "$ci") ;;
                *)           out=$($PY bench/peers/pg_py.py "$impl" "$b" "$n" "$dsn") ;;
            esac || { log "$impl $b failed"; continue; }
            s1=$(server_cpu)
            load=$(cut -d' ' -f1 /proc/loadavg)
            out=$($PY -c 'import json, sys
d = json.loads(sys.argv[1])
d.update(impl=sys.argv[2], server_cpu_s=int(sys.argv[3]) / int(sys.argv[4]), load=float(sys.argv[5]))
print(json.dumps(d))' "$out" "$impl" "$(( s1 - s0 ))" "$hz" "$load")
            echo "$out" >>"$raw"
            log "$impl $b #$rep: $out"
        done
    done
done

$PY bench/pg_summary.py "$raw" "${PG_BENCH_OUT:-bench/results/pg.json}"
rm -f "$raw"
