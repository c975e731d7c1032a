#!/usr/bin/env bash
# run-redis.sh - the Redis client benchmarks, simul beside its peers in one
# run, against one redis-server this script starts (tests/redis/
# redisserver.sh: a temporary directory, a free loopback port, no
# persistence; stopped at exit) pinned to CPU 0, every client pinned to
# CPU 1, over TCP on loopback:
#
#   simul           build/bench/redis simul ... (bench/redis.c on libsimul)
#   simul-held      the same for pipe only, with the pipe unbound: built
#                   whole, then sent (simul's pipe is bound: sent in 64 KiB
#                   batches while it fills)
#   hiredis         build/bench/redis hiredis ... (synchronous hiredis in C)
#   hiredis-async   build/bench/redis hiredis-async ... (hiredis's async context on
#                   simul's loop through its adapter hooks, a future per
#                   command: the design not chosen, docs/design.md)
#   redis-benchmark redis's own C load generator: the floor
#                   (seq: -c 1; tasks: -c 1 -P 100; pipe: -c 1 -P 10000;
#                   all -r 10000 -d 16: the same 10,000 keys and 16-byte
#                   values the others send, so the server's work is the same)
#   redis-py        bench/peers/redis_py.py (python3-redis 4.3's asyncio
#                   client), on asyncio and on uvloop
#   aioredis        bench/peers/redis_py.py (python3-aioredis 1.3.1, the
#                   walkthrough's "aio-redis"; python3-hiredis parses for
#                   it), on asyncio
#
# Benches (N): seq (SET/GET round trips on one connection, one at a time;
# 20,000), tasks (100 tasks x N/100 SETs on one connection: implicit
# pipelining; 100,000), pipe (one explicit pipeline of 100,000 SETs). Each
# runs REPEAT times (default 3); the median wall time and the client's CPU
# time (user + system: the clients' own figures, connect excluded;
# redis-benchmark's from /usr/bin/time) are kept. The load average before
# and after goes into the results: bench/results/redis.json.
#
# Environment: REPEAT, SIMUL_BENCH_NO_MAKE=1, SIMUL_BENCH_NO_INSTALL=1,
# REDIS_BENCH_ONLY="seq tasks" (a subset), REDIS_BENCH_SCALE (divides N),
# REDIS_BENCH_BASELINE=PATH: also run PATH (bench/redis.c built against an
# older libsimul) as "simul-baseline", alternating with the others, for a
# before/after within one run.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
REPEAT=${REPEAT:-3}
SCALE=${REDIS_BENCH_SCALE:-1}
BENCHES=${REDIS_BENCH_ONLY:-seq tasks pipe}
log() { echo "run-redis: $*" >&2; }
PY=/usr/bin/python3   # Debian's, where python3-redis and python3-uvloop are

if [[ -z ${SIMUL_BENCH_NO_INSTALL:-} ]]; then
    scripts/deps.sh bench >&2 || log "scripts/deps.sh failed; going on with what is installed"
fi
if [[ -z ${SIMUL_BENCH_NO_MAKE:-} && -f Makefile ]]; then
    make -s >&2 || log "make failed"
fi
[[ -x build/bench/redis ]] || { log "no build/bench/redis (ninja -C build)"; exit 1; }

dir=$(mktemp -d /tmp/simul-redisbench-XXXXXX)
trap 'tests/redis/redisserver.sh stop "$dir"' EXIT
port=$(tests/redis/redisserver.sh start "$dir" 0) || exit 1
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

declare -A N=([seq]=20000 [tasks]=100000 [pipe]=100000)
declare -A DEPTH=([seq]=1 [tasks]=100 [pipe]=10000)
impls="simul simul-held hiredis hiredis-async redis-benchmark redis-py redis-py+uvloop aioredis"
baseline=${REDIS_BENCH_BASELINE:-}
[[ -n $baseline ]] && impls="simul-baseline $impls"
$PY -c 'import redis.asyncio' 2>/dev/null || { log "python3-redis missing: redis-py left out"; impls=${impls//redis-py+uvloop/}; impls=${impls//redis-py/}; }
$PY -c 'import aioredis' 2>/dev/null || { log "python3-aioredis missing or not importable: aioredis left out"; impls=${impls//aioredis/}; }
$PY -c 'import uvloop' 2>/dev/null || { log "python3-uvloop missing: redis-py+uvloop left out"; impls=${impls//redis-py+uvloop/}; }

# Runs a client on CPU 1 under /usr/bin/time; prints "wall user sys" and
# the client's stdout on the lines after (for redis-benchmark).
timed() {
    local t
    t=$(mktemp)
    local out
    out=$(/usr/bin/time -f '%e %U %S' -o "$t" taskset -c 1 "$@") || { rm -f "$t"; return 1; }
    tail -n 1 "$t"
    rm -f "$t"
    echo "$out"
}

# redis-benchmark's CSV (argv[5]) to our JSON line: its ops/s (the mean
# of SET's and GET's for seq) as the wall time of n operations, its CPU
# per test (it runs n operations per test)
rb_parse='
import csv, json, sys
b, n, u, s = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
rows = [r for r in csv.reader(sys.argv[5].splitlines()) if r and r[0] != "test"]
rps = sum(float(r[1]) for r in rows) / len(rows)
print(json.dumps({"impl": "redis-benchmark", "bench": b, "n": n, "wall_s": n / rps,
                  "cpu_s": (u + s) / len(rows)}))
'

raw=$(mktemp)
for b in $BENCHES; do
    n=$(( ${N[$b]} / SCALE ))
    for rep in $(seq "$REPEAT"); do
        for impl in $impls; do
            [[ $impl == simul-held && $b != pipe ]] && continue
            case $impl in
            simul*|hiredis|hiredis-async|redis-py*|aioredis)
                # their own clocks: connect and interpreter start excluded
                if [[ $impl == simul-baseline ]]; then
                    line=$(taskset -c 1 "$baseline" simul "$b" "$n" "$port" |
                           sed 's/"impl": "simul"/"impl": "simul-baseline"/')
                elif [[ $impl != redis-py* && $impl != aioredis ]]; then
                    line=$(taskset -c 1 build/bench/redis "$impl" "$b" "$n" "$port")
                else
                    line=$(taskset -c 1 $PY bench/peers/redis_py.py "$impl" "$b" "$n" "$port")
                fi || { log "$impl $b failed"; continue; }
                ;;
            redis-benchmark)
                tests=set
                [[ $b == seq ]] && tests=set,get
                res=$(timed redis-benchmark -p "$port" -n "$n" -c 1 -P "${DEPTH[$b]}" -r 10000 -d 16 \
                      -t "$tests" --csv) ||
                    { log "redis-benchmark $b failed"; continue; }
                read -r _ u s <<<"$(head -n 1 <<<"$res")"
                # ops/s as it reports them (the mean of SET's and GET's for
                # seq), turned into the wall time of n operations
                line=$($PY -c "$rb_parse" "$b" "$n" "$u" "$s" "$(tail -n +2 <<<"$res")")
                ;;
            esac
            echo "$line" >>"$raw"
            log "$impl $b #$rep: $line"
        done
    done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$raw" bench/results/redis.json "$load_before" "$load_after" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
res = {}
for r in rows:
    res.setdefault(r["bench"], {}).setdefault(r["impl"], []).append(r)
out = {"server": "redis-server 7.0 (Debian) on CPU 0, clients on CPU 1, TCP loopback",
       "loadavg_before": sys.argv[3], "loadavg_after": sys.argv[4], "results": {}}
print(f"load average before: {sys.argv[3]}, after: {sys.argv[4]}")
print(f"{'bench':6} {'impl':16} {'N':>7} {'ops/s':>10} {'CPU us/op':>10} {'/ redis-benchmark':>18} {'/ redis-py':>11} {'/ aioredis':>11}")
for b, impls in res.items():
    med = {}
    for impl, rs in impls.items():
        w = statistics.median(x["wall_s"] for x in rs)
        c = statistics.median(x["cpu_s"] for x in rs)
        n = rs[0]["n"]
        med[impl] = {"n": n, "wall_s": w, "cpu_s": c, "ops_per_s": n / w,
                     "cpu_us_per_op": c / n * 1e6, "runs": len(rs)}
    for impl, m in med.items():
        f = med.get("redis-benchmark")
        p = med.get("redis-py")
        a = med.get("aioredis")
        m["over_redis_benchmark"] = m["ops_per_s"] / f["ops_per_s"] if f else None
        m["over_redis_py"] = m["ops_per_s"] / p["ops_per_s"] if p else None
        m["over_aioredis"] = m["ops_per_s"] / a["ops_per_s"] if a else None
        print(f"{b:6} {impl:16} {m['n']:7} {m['ops_per_s']:10.0f} {m['cpu_us_per_op']:10.2f} "
              f"{(m['over_redis_benchmark'] or 0):17.2f}x {(m['over_redis_py'] or 0):10.1f}x "
              f"{(m['over_aioredis'] or 0):10.1f}x")
    out["results"][b] = med
json.dump(out, open(sys.argv[2], "w"), indent=1)
PY
rm -f "$raw"
