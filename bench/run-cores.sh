#!/usr/bin/env bash
# run-cores.sh - loops across cores: a channel between two loops, and the
# echo server on two loops, each beside its peers in the same run.
#
#   bench/run-cores.sh [--quick]
#
# chan: CHAN_N items (default 5,000,000) through a channel of capacity 128
# from one task to another, one JSON line per run (bench/cores.c): simul
# across two loops (two threads, simul_run_loops) with send/recv per item
# and with send_many/recv_many of 64; simul within one loop; simul's
# single-loop queue (simul_queue) for reference; Go's buffered channel
# between two goroutines with GOMAXPROCS=2 and =1 (bench/peers/chan_go).
# Nothing is pinned: the two sides get the machine's CPUs.
#
# echo: the load client of run-io.sh (bench/echo_load.c, one thread) with
# ECHO_CONNS connections (default 100) ping-ponging 64-byte messages for
# ECHO_SECONDS (5) after 1 s of warm-up, against: simul's
# examples/echo-server.c on 1 and 2 loops (a listener per loop,
# SO_REUSEPORT) and on 2 loops with one acceptor handing sockets over
# through a channel; libuv with one loop per thread (bench/peers/echo_uv.c
# with LOOPS, SO_REUSEPORT) on 1 and 2 threads; Go's echo with GOMAXPROCS=1
# and 2. Server CPU per round trip (utime+stime of the
# whole process) and round trips/s; the servers take turns ROUNDS times
# (default 3; --quick 1) and medians are kept. On a 2-CPU machine the
# client shares the CPUs with the server's loops, so absolute rates say
# little; the ratios between servers in one run are what to read.
# Results: bench/results/cores.json (with the load average).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
OUT=build/bench
mkdir -p "$OUT" bench/results
PY=/usr/bin/python3
log() { echo "run-cores: $*" >&2; }

rounds=${ROUNDS:-3}
secs=${ECHO_SECONDS:-5}
chan_n=${CHAN_N:-5000000}
conns=${ECHO_CONNS:-100}
[[ ${1:-} == --quick ]] && { rounds=1; secs=2; chan_n=1000000; }

if [[ -z ${SIMUL_BENCH_NO_INSTALL:-} ]]; then
    scripts/deps.sh bench >&2 || log "scripts/deps.sh failed; going on with what is installed"
fi
CC=${CC:-cc}
LIB=${SIMUL_LIB:-build/libsimul.a}
if [[ -z ${SIMUL_BENCH_NO_MAKE:-} && -z ${SIMUL_LIB:-} && -f Makefile ]]; then
    make -s >&2 || log "make failed; benchmarking whatever $LIB there is"
fi
rm -f "$OUT/cores" "$OUT/chan_go" "$OUT/echo_uv" "$OUT/echo_go" "$OUT/echo_simul"
for libs in "-lm -lpthread" "-lm -lpthread -luring"; do
    $CC -O2 -Iinclude -o "$OUT/cores" bench/cores.c "$LIB" $libs 2>/dev/null &&
        $CC -O2 -Iinclude -o "$OUT/echo_simul" examples/echo-server.c "$LIB" $libs 2>/dev/null && break
done
[[ -x $OUT/cores && -x $OUT/echo_simul ]] || { log "cannot build bench/cores.c or the echo server against $LIB"; exit 1; }
$CC -O2 -o "$OUT/echo_load" bench/echo_load.c || { log "cannot build the load client"; exit 1; }
$CC -O2 -o "$OUT/echo_uv" bench/peers/echo_uv.c -luv -lpthread || log "libuv peer not built; skipped"
if command -v go >/dev/null; then
    [[ -z ${HOME:-} ]] && export GOCACHE=$ROOT/$OUT/go-cache GOPATH=$ROOT/$OUT/go-path
    (cd bench/peers/chan_go && GOFLAGS="" GO111MODULE=off go build -o "$ROOT/$OUT/chan_go" main.go) >&2 ||
        log "go build (chan) failed; Go is skipped"
    (cd bench/peers/echo_go && GOFLAGS="" GO111MODULE=off go build -o "$ROOT/$OUT/echo_go" main.go) >&2 ||
        log "go build (echo) failed; Go is skipped"
fi

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
results=$OUT/cores-results.jsonl
: >"$results"

# ---- chan ------------------------------------------------------------------
chan_one() { # name cmd...
    local name=$1 line
    shift
    line=$("$@") || { log "$name failed"; return; }
    echo "{\"bench\": \"chan\", \"impl\": \"$name\", ${line#\{}" >>"$results"
    echo "  chan $name: $line" >&2
}
for round in $(seq "$rounds"); do
    log "chan: $chan_n items, capacity 128, round $round of $rounds"
    chan_one simul-2loops "$OUT/cores" chan "$chan_n" 128 2 1
    chan_one simul-2loops-batch64 "$OUT/cores" chan "$chan_n" 128 2 64
    chan_one simul-1loop "$OUT/cores" chan "$chan_n" 128 1 1
    chan_one simul-queue-1loop "$OUT/cores" queue "$chan_n" 128
    if [[ -x $OUT/chan_go ]]; then
        chan_one go-2procs env GOMAXPROCS=2 "$OUT/chan_go" "$chan_n" 128
        chan_one go-1proc env GOMAXPROCS=1 "$OUT/chan_go" "$chan_n" 128
    fi
done

# ---- echo ------------------------------------------------------------------
free_port() {
    $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# Until the server says "listening" (simul: every loop is up) or, for the
# peers, accepts a connection.
wait_ready() { # pid outfile port
    for _ in $(seq 200); do
        kill -0 "$1" 2>/dev/null || return 1
        if grep -q listening "$2" 2>/dev/null ||
            { [[ $2 != *simul-* ]] && (exec 3<>"/dev/tcp/127.0.0.1/$3") 2>/dev/null; }; then
            return 0
        fi
        sleep 0.05
    done
    return 1
}
ulimit -n 8192 2>/dev/null || ulimit -n 4096 2>/dev/null || true
echo_one() { # name cmd... (@PORT@ in cmd is replaced by a free port)
    local name=$1 port pid line st
    shift
    port=$(free_port)
    local args=("$@")
    args=("${args[@]/@PORT@/$port}")
    "${args[@]}" >"$OUT/cores-$name.out" 2>"$OUT/cores-$name.err" &
    pid=$!
    wait_ready "$pid" "$OUT/cores-$name.out" "$port" ||
        { log "$name did not start (see $OUT/cores-$name.err)"; kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; return; }
    line=$("$OUT/echo_load" "$port" "$conns" "$secs" 64 1 "$pid")
    st=$?
    kill -INT "$pid" 2>/dev/null
    sleep 0.3
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    if ((st != 0)) || [[ -z $line ]]; then
        log "$name failed"
        return
    fi
    echo "{\"bench\": \"echo\", \"impl\": \"$name\", ${line#\{}" >>"$results"
    echo "  echo $name: $line" >&2
}
for round in $(seq "$rounds"); do
    log "echo: $conns connections, 64-byte messages, ${secs}s, round $round of $rounds"
    echo_one simul-1loop "$OUT/echo_simul" @PORT@ 1
    echo_one simul-2loops "$OUT/echo_simul" @PORT@ 2 reuseport
    echo_one simul-2loops-handoff "$OUT/echo_simul" @PORT@ 2 handoff
    if [[ -x $OUT/echo_uv ]]; then
        echo_one libuv-1loop "$OUT/echo_uv" @PORT@ 1
        echo_one libuv-2loops "$OUT/echo_uv" @PORT@ 2
    fi
    if [[ -x $OUT/echo_go ]]; then
        echo_one go-1proc env GOMAXPROCS=1 "$OUT/echo_go" @PORT@
        echo_one go-2procs env GOMAXPROCS=2 "$OUT/echo_go" @PORT@
    fi
done

# ---- table and JSON ----------------------------------------------------------
$PY - "$results" bench/results/cores.json "$rounds" "$load_start" "$chan_n" "$conns" "$secs" <<'PYEOF'
import json, os, sys, platform, statistics, time
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
out, rounds, load_start = sys.argv[2], int(sys.argv[3]), sys.argv[4]
chan_n, conns, secs = int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7])
def med(rs, k):
    return statistics.median(r[k] for r in rs)
doc = {"what": "loops across cores: a channel between two loops vs Go's buffered "
               "channel (GOMAXPROCS=2); echo on 2 loops vs libuv (a loop per "
               "thread, SO_REUSEPORT) and Go (GOMAXPROCS=2); medians over rounds; "
               "nothing pinned (2-CPU machine: the load client shares the CPUs)",
       "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
       "rounds": rounds,
       "machine": {"cpus": os.cpu_count(), "kernel": platform.release(),
                   "loadavg_at_start": load_start, "loadavg_at_end": os.getloadavg()}}
def by_impl(bench):
    g = {}
    for r in rows:
        if r["bench"] == bench:
            g.setdefault(r["impl"], []).append(r)
    return g
chan = by_impl("chan")
ctab = []
gbase = chan.get("go-2procs")
print(f"\nchannel, {chan_n:,} items, capacity 128, medians of {rounds} (load {load_start})")
print(f"{'impl':<24}{'items/s':>14}{'ns/item':>10}{'CPU ns/item':>13}{'vs Go 2 procs':>15}")
for impl, rs in chan.items():
    m = {"impl": impl, "items_per_s": med(rs, "items_per_s"), "ns_per_item": med(rs, "ns_per_item"),
         "cpu_ns_per_item": statistics.median(r["cpu_s"] * 1e9 / r["items"] for r in rs),
         "runs": [{k: r[k] for k in ("wall_s", "cpu_s", "items_per_s")} for r in rs]}
    if gbase:
        m["vs_go_2procs"] = round(m["items_per_s"] / med(gbase, "items_per_s"), 3)
    ctab.append(m)
    print(f"{impl:<24}{m['items_per_s']:>14,.0f}{m['ns_per_item']:>10.1f}"
          f"{m['cpu_ns_per_item']:>13.1f}{m.get('vs_go_2procs', float('nan')):>14.2f}x")
doc["chan"] = {"items": chan_n, "capacity": 128, "results": ctab}
echo = by_impl("echo")
etab = []
ubase = echo.get("libuv-2loops")
print(f"\necho, {conns} connections, 64-byte ping-pong, {secs:g} s, medians of {rounds}")
print(f"{'server':<24}{'round trips/s':>15}{'vs libuv 2':>12}{'CPU us/rt':>11}{'vs libuv 2':>12}")
for impl, rs in echo.items():
    m = {"impl": impl, "rt_per_s": med(rs, "rt_per_s"), "cpu_us_per_rt": med(rs, "cpu_us_per_rt"),
         "runs": [{k: r[k] for k in ("round_trips", "seconds", "rt_per_s", "server_cpu_s",
                                      "cpu_us_per_rt")} for r in rs]}
    if ubase:
        m["rt_vs_libuv_2loops"] = round(m["rt_per_s"] / med(ubase, "rt_per_s"), 3)
        m["cpu_vs_libuv_2loops"] = round(m["cpu_us_per_rt"] / med(ubase, "cpu_us_per_rt"), 3)
    etab.append(m)
    print(f"{impl:<24}{m['rt_per_s']:>15,.0f}{m.get('rt_vs_libuv_2loops', float('nan')):>11.2f}x"
          f"{m['cpu_us_per_rt']:>11.2f}{m.get('cpu_vs_libuv_2loops', float('nan')):>11.2f}x")
doc["echo"] = {"conns": conns, "seconds": secs, "msg": 64, "results": etab}
json.dump(doc, open(out, "w"), indent=2)
print(f"\nwritten {out}  (load average at end: {os.getloadavg()[0]:.2f})")
PYEOF
