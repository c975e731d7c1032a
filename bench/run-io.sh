#!/usr/bin/env bash
# run-io.sh - the echo benchmark: simul's streams echo server beside libuv,
# Go, uvloop and asyncio, all driven by the same load client.
#
#   bench/run-io.sh [--quick] [--impls simul-epoll,simul-io_uring,libuv,go,uvloop,asyncio]
#
# Each server runs pinned to CPU 0 (taskset -c 0), the load client
# (bench/echo_load.c: one thread, epoll) pinned to CPU 1. Per server and
# per connection count (100, then 1000): CONNS connections ping-pong 64-byte
# messages for 5 s after a 1 s warm-up (--quick: 2 s). The client reports
# round trips per second and the server's CPU time (utime+stime of
# /proc/PID/stat, all threads) per round trip over the measured window.
# The servers take turns, ECHO_ROUNDS times (default 3; --quick: 1), and
# the median of each figure is reported, so a burst of other load on the
# machine does not land on one server only. Ratios are against libuv from
# the same run. Results: bench/results/io.json
# (key "echo"; other keys of an existing io.json are kept).
#
# The simul server is examples/echo-server.c compiled with -O2 against
# SIMUL_LIB (default build/libsimul.a, built by `make`), once per backend
# (SIMUL_BACKEND=epoll, and io_uring when this build has it). Python peers
# run on Debian's /usr/bin/python3, Go with GOMAXPROCS=1.
#
# Environment: SIMUL_LIB, SIMUL_BENCH_NO_MAKE=1, SIMUL_BENCH_NO_INSTALL=1,
# ECHO_SECONDS (default 5), ECHO_CONNS (default "100 1000"), ECHO_ROUNDS.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
OUT=build/bench
mkdir -p "$OUT" bench/results
PY=/usr/bin/python3

log() { echo "run-io: $*" >&2; }

secs=${ECHO_SECONDS:-5}
rounds=${ECHO_ROUNDS:-3}
conns_list=${ECHO_CONNS:-100 1000}
impls="simul-epoll,simul-io_uring,libuv,go,uvloop,asyncio"
while (($#)); do
    case $1 in
    --quick) secs=2; rounds=1 ;;
    --impls) impls=$2; shift ;;
    *) echo "usage: run-io.sh [--quick] [--impls LIST]" >&2; exit 2 ;;
    esac
    shift
done

# ---- Debian packages: the project's one installer (only what is missing) --
if [[ -z ${SIMUL_BENCH_NO_INSTALL:-} ]]; then
    scripts/deps.sh bench >&2 || log "scripts/deps.sh failed; going on with what is installed"
fi
if (($(nproc) < 2)); then
    log "needs 2 CPUs (server on 0, client on 1); found $(nproc)"
    exit 1
fi

# ---- builds ---------------------------------------------------------------
CC=${CC:-cc}
LIB=${SIMUL_LIB:-build/libsimul.a}
if [[ -z ${SIMUL_BENCH_NO_MAKE:-} && -z ${SIMUL_LIB:-} && -f Makefile ]]; then
    make -s >&2 || log "make failed; benchmarking whatever $LIB there is"
fi
$CC -O2 -o "$OUT/echo_load" bench/echo_load.c || { log "cannot build the load client"; exit 1; }
rm -f "$OUT/echo_simul" "$OUT/echo_uv" "$OUT/echo_go"
if [[ -f $LIB ]]; then
    for libs in "-lm -lpthread" "-lm -lpthread -luring"; do
        $CC -O2 -Iinclude -o "$OUT/echo_simul" examples/echo-server.c "$LIB" $libs \
            2>/dev/null && break
    done
fi
[[ -x $OUT/echo_simul ]] || log "cannot build the simul echo server against $LIB; simul is skipped"
$CC -O2 -o "$OUT/echo_uv" bench/peers/echo_uv.c -luv || log "libuv peer not built; skipped"
if command -v go >/dev/null; then
    [[ -z ${HOME:-} ]] && export GOCACHE=$ROOT/$OUT/go-cache GOPATH=$ROOT/$OUT/go-path
    (cd bench/peers/echo_go && GOFLAGS="" GO111MODULE=off \
        go build -o "$ROOT/$OUT/echo_go" main.go) >&2 || log "go build failed; Go is skipped"
fi
has_uvloop=0
$PY -c 'import uvloop' 2>/dev/null && has_uvloop=1

# ---- running one server ---------------------------------------------------
free_port() {
    $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() { # port pid
    for _ in $(seq 200); do
        kill -0 "$2" 2>/dev/null || return 1
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

results=$OUT/echo-results.jsonl
: >"$results"
ulimit -n 8192 2>/dev/null || ulimit -n 4096 2>/dev/null || true

run_one() { # name conns cmd...
    local name=$1 conns=$2
    shift 2
    local port pid line
    port=$(free_port)
    taskset -c 0 "$@" "$port" >"$OUT/echo-$name.out" 2>"$OUT/echo-$name.err" &
    pid=$!
    if ! wait_port "$port" "$pid"; then
        log "$name did not start (see $OUT/echo-$name.err)"
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        return
    fi
    # A simul server says which backend it got; a build or kernel without
    # io_uring fails to start or reports another one: skip it then.
    if [[ $name == simul-* ]] && ! grep -q "backend ${name#simul-}" "$OUT/echo-$name.out"; then
        log "$name: backend not available here; skipped"
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        return
    fi
    line=$(taskset -c 1 "$OUT/echo_load" "$port" "$conns" "$secs" 64 1 "$pid")
    local st=$?
    kill -INT "$pid" 2>/dev/null
    sleep 0.2
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    if ((st != 0)) || [[ -z $line ]]; then
        log "$name with $conns connections failed"
        return
    fi
    echo "{\"server\": \"$name\", ${line#\{}" >>"$results"
    echo "  $name x$conns: $line" >&2
}

want() { [[ ",$impls," == *",$1,"* ]]; }

for conns in $conns_list; do
  for round in $(seq "$rounds"); do
    log "echo: $conns connections, 64-byte messages, ${secs}s, round $round of $rounds"
    if [[ -x $OUT/echo_simul ]]; then
        want simul-epoll && run_one simul-epoll "$conns" env SIMUL_BACKEND=epoll "$OUT/echo_simul"
        want simul-io_uring && run_one simul-io_uring "$conns" env SIMUL_BACKEND=io_uring "$OUT/echo_simul"
    fi
    want libuv && [[ -x $OUT/echo_uv ]] && run_one libuv "$conns" "$OUT/echo_uv"
    want go && [[ -x $OUT/echo_go ]] && run_one go "$conns" env GOMAXPROCS=1 "$OUT/echo_go"
    want uvloop && ((has_uvloop)) && run_one uvloop "$conns" $PY bench/peers/echo_asyncio.py --uvloop
    want asyncio && run_one asyncio "$conns" $PY bench/peers/echo_asyncio.py
  done
done

# ---- table and JSON -------------------------------------------------------
$PY - "$results" bench/results/io.json "$secs" "$rounds" <<'PYEOF'
import json, os, sys, platform, statistics
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
out, secs, rounds = sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
groups = {}
for r in rows:
    groups.setdefault(r["conns"], {}).setdefault(r["server"], []).append(r)
table = []
for conns in sorted(groups):
    med = {}
    for srv, rs in groups[conns].items():
        med[srv] = {
            "server": srv, "conns": conns, "msg": rs[0]["msg"], "runs": len(rs),
            "rt_per_s": statistics.median(r["rt_per_s"] for r in rs),
            "cpu_us_per_rt": statistics.median(r["cpu_us_per_rt"] for r in rs),
            "samples": [{k: r[k] for k in ("round_trips", "seconds", "rt_per_s",
                                           "server_cpu_s", "cpu_us_per_rt")} for r in rs],
        }
    base = med.get("libuv")
    print(f"\necho, {conns} connections, 64-byte ping-pong, {secs:g} s x {rounds} "
          "round(s), medians (server on CPU 0, client on CPU 1)")
    print(f"{'server':<16}{'round trips/s':>15}{'vs libuv':>10}"
          f"{'CPU us/rt':>12}{'vs libuv':>10}")
    for srv, m in med.items():
        if base:
            m["rt_per_s_vs_libuv"] = round(m["rt_per_s"] / base["rt_per_s"], 3)
            m["cpu_per_rt_vs_libuv"] = round(m["cpu_us_per_rt"] / base["cpu_us_per_rt"], 3)
        table.append(m)
        a = f"{m.get('rt_per_s_vs_libuv', float('nan')):.2f}x"
        b = f"{m.get('cpu_per_rt_vs_libuv', float('nan')):.2f}x"
        print(f"{srv:<16}{m['rt_per_s']:>15,.0f}{a:>10}{m['cpu_us_per_rt']:>12.3f}{b:>10}")
doc = {}
if os.path.exists(out):
    try:
        doc = json.load(open(out))
    except ValueError:
        doc = {}
doc["echo"] = {
    "what": "echo ping-pong, 64-byte messages; server pinned to CPU 0, the "
            "same C epoll load client (bench/echo_load.c) pinned to CPU 1; "
            "server CPU = utime+stime of /proc/PID/stat over the window; "
            "medians over the rounds; ratios vs libuv from the same run",
    "seconds": secs,
    "rounds": rounds,
    "machine": {"cpus": os.cpu_count(), "kernel": platform.release(),
                "loadavg_at_end": os.getloadavg()},
    "results": table,
}
json.dump(doc, open(out, "w"), indent=2)
print(f"\nwritten {out}")
PYEOF
