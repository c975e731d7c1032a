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
# Benches (N): select1 (SELECT 1 round trips on one connection; 20,000),
# params (10 connections x 10,000 parameterised queries), insert (100,000
# pipelined INSERTs in one transaction: simul_pg_executemany, asyncpg's and
# psycopg's executemany, libpq's pipeline mode), insert_tasks (simul only:
# the same from 100 tasks on one connection in pipeline mode), fetch (one SELECT of 1,000,000
# rows, every value read), copy (COPY of 1,000,000 rows FROM STDIN). Each
# runs REPEAT times (default 3); the median wall time and CPU time (the
# client process's) are kept. Results: bench/results/pg.json.
#
# Environment: REPEAT, SIMUL_BENCH_NO_MAKE=1, SIMUL_BENCH_NO_INSTALL=1,
# PG_BENCH_ONLY="select1 params" (a subset), PG_BENCH_SCALE (divides N).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
REPEAT=${REPEAT:-3}
SCALE=${PG_BENCH_SCALE:-1}
BENCHES=${PG_BENCH_ONLY:-select1 params insert insert_tasks fetch copy}
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

declare -A N=([select1]=20000 [params]=100000 [insert]=100000 [insert_tasks]=100000
              [fetch]=1000000 [copy]=1000000)
impls="simul libpq asyncpg asyncpg+uvloop psycopg"
$PY -c 'import asyncpg' 2>/dev/null || { log "python3-asyncpg missing: asyncpg left out"; impls=${impls//asyncpg+uvloop/}; impls=${impls/asyncpg/}; }
$PY -c 'import uvloop' 2>/dev/null || { log "python3-uvloop missing: asyncpg+uvloop left out"; impls=${impls//asyncpg+uvloop/}; }
$PY -c 'import psycopg' 2>/dev/null || { log "python3-psycopg missing: psycopg left out"; impls=${impls/psycopg/}; }

raw=$(mktemp)
for b in $BENCHES; do
    n=$(( ${N[$b]} / SCALE ))
    for rep in $(seq "$REPEAT"); do
        for impl in $impls; do
            [[ $b == insert_tasks && $impl != simul ]] && continue   # simul's pipeline mode only
            sql "DROP TABLE IF EXISTS bench_t; CREATE TABLE bench_t(id int, name text)"
            sql "CHECKPOINT"
            case $impl in
                simul|libpq) out=$(build/bench/pg "$impl" "$b" "$n" "$ci") ;;
                *)           out=$($PY bench/peers/pg_py.py "$impl" "$b" "$n" "$dsn") ;;
            esac || { log "$impl $b failed"; continue; }
            echo "$out" >>"$raw"
            log "$impl $b #$rep: $out"
        done
    done
done

python3 - "$raw" bench/results/pg.json <<'PY'
import json, statistics, sys, platform, subprocess
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
res = {}
for r in rows:
    res.setdefault(r["bench"], {}).setdefault(r["impl"], []).append(r)
out = {"server": "PostgreSQL 15 (Debian), TCP loopback, fsync off", "results": {}}
print(f"{'bench':12} {'impl':14} {'N':>8} {'ops/s':>10} {'CPU us/op':>10} {'asyncpg+uvloop wall / this':>27} {'CPU / libpq':>12}")
for b, impls in res.items():
    med = {}
    for impl, rs in impls.items():
        w = statistics.median(x["wall_s"] for x in rs)
        c = statistics.median(x["cpu_s"] for x in rs)
        n = rs[0]["n"]
        med[impl] = {"n": n, "wall_s": w, "cpu_s": c, "ops_per_s": n / w, "cpu_us_per_op": c / n * 1e6,
                     "runs": len(rs)}
    for impl, m in med.items():
        a = med.get("asyncpg+uvloop") or med.get("asyncpg")
        l = med.get("libpq")
        m["asyncpg_wall_over_this"] = a["wall_s"] / m["wall_s"] if a else None
        m["cpu_over_libpq"] = m["cpu_s"] / l["cpu_s"] if l and l["cpu_s"] > 0 else None
        print(f"{b:12} {impl:14} {m['n']:8} {m['ops_per_s']:10.0f} {m['cpu_us_per_op']:10.2f} "
              f"{(m['asyncpg_wall_over_this'] or 0):26.2f}x {(m['cpu_over_libpq'] or 0):11.2f}x")
    out["results"][b] = med
json.dump(out, open(sys.argv[2], "w"), indent=1)
PY
rm -f "$raw"
