#!/usr/bin/env bash
# run-io-sys.sh - the system I/O benchmarks, simul beside its peers in one run:
#
#   1. thread pool round trip: sequential simul_to_thread(noop) on the epoll
#      and io_uring backends vs asyncio's loop.run_in_executor(None, noop)
#      on Debian's /usr/bin/python3, on the asyncio loop and on uvloop;
#   2. appending short lines ("line %d\n", one write call per line) with the
#      async file API: simul (buffered, as Python's files are, and unbuffered,
#      one ring/pool op per line) vs aiofiles (python3-aiofiles) on asyncio
#      and uvloop. simul appends APPEND_N lines (default 1,000,000); the
#      Python side appends PY_APPEND_N (default 100,000, as 1M lines take
#      about a minute there) - compare the per-line figures;
#   3. writing LINES_N (default 100,000) short lines to a stream over a Unix
#      socket, one write call per line, then drain/close, a plain thread
#      reading the other end: simul_stream_write (coalesced) vs asyncio's
#      StreamWriter.write on asyncio and uvloop. With strace installed, the
#      send/write system calls of one run are counted too ("calls").
#
# Each measurement runs REPEAT times (default 3); the median ns/op is kept.
# Ratios are peer / simul-epoll (> 1: simul is faster). Results:
# bench/results/io-sys.json. The simul side is bench/io_sys.c compiled with
# -O2 against SIMUL_LIB (default build/libsimul.a, built by `make` unless
# SIMUL_BENCH_NO_MAKE=1). Lines go to files in a temporary directory under
# build/bench (a disk-backed file system; TMPDIR is not used).
#
# Environment: SIMUL_LIB, SIMUL_BENCH_NO_MAKE=1, SIMUL_BENCH_NO_INSTALL=1,
# REPEAT, POOL_N (default 100000), PY_POOL_N (default 20000), APPEND_N,
# PY_APPEND_N, UNBUF_N (default 100000: the unbuffered simul runs), LINES_N.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
OUT=build/bench
mkdir -p "$OUT" bench/results
PY=/usr/bin/python3
REPEAT=${REPEAT:-3}
POOL_N=${POOL_N:-100000}
PY_POOL_N=${PY_POOL_N:-20000}
APPEND_N=${APPEND_N:-1000000}
PY_APPEND_N=${PY_APPEND_N:-100000}
UNBUF_N=${UNBUF_N:-100000}
LINES_N=${LINES_N:-100000}

log() { echo "run-io-sys: $*" >&2; }

# ---- Debian packages: the project's one installer (only what is missing) --
if [[ -z ${SIMUL_BENCH_NO_INSTALL:-} ]]; then
    scripts/deps.sh bench >&2 || log "scripts/deps.sh failed; going on with what is installed"
fi

# ---- simul: the library and bench/io_sys.c --------------------------------
LIB=${SIMUL_LIB:-build/libsimul.a}
if [[ -z ${SIMUL_BENCH_NO_MAKE:-} && -f Makefile ]]; then
    make -s >&2 || log "make failed; benchmarking whatever $LIB there is"
fi
rm -f "$OUT/io_sys"
if [[ -f $LIB ]]; then
    for libs in "-lm -lpthread -luring" "-lm -lpthread"; do
        # shellcheck disable=SC2086
        ${CC:-cc} -O2 -std=gnu11 -Wall -Iinclude bench/io_sys.c "$LIB" $libs \
            -o "$OUT/io_sys" 2>"$OUT/io_sys.link.log" && break
    done
    [[ -x $OUT/io_sys ]] || { log "could not build bench/io_sys.c:"; cat "$OUT/io_sys.link.log" >&2; }
else
    log "$LIB not found: simul is skipped (build the library first)"
fi

DIR=$(mktemp -d "$PWD/$OUT/io-sys.XXXXXX") || exit 1
trap 'rm -rf "$DIR"' EXIT
RAW=$DIR/raw.jsonl
CALLS=$DIR/calls.jsonl
: >"$RAW"
: >"$CALLS"

# calls BENCH IMPL CMD...: one run under strace, counting send/write calls.
calls() {
    local bench=$1 impl=$2 n
    shift 2
    command -v strace >/dev/null || return
    strace -f -c -e trace=write,writev,sendto,sendmsg -o "$DIR/strace" "$@" >/dev/null 2>&1 || return
    # the "total" row: calls is the 4th column (errors may be empty)
    n=$(awk '$NF == "total" { print $4 }' "$DIR/strace")
    [[ -n $n ]] && echo "{\"bench\": \"$bench\", \"impl\": \"$impl\", \"calls\": $n}" >>"$CALLS"
}

# run BENCH IMPL CMD...: REPEAT runs, each JSON line tagged and kept.
run() {
    local bench=$1 impl=$2
    shift 2
    for ((i = 0; i < REPEAT; i++)); do
        local line
        if line=$("$@" 2>"$DIR/err"); then
            echo "{\"bench\": \"$bench\", \"impl\": \"$impl\", \"r\": $line}" >>"$RAW"
        else
            log "$bench/$impl failed: $(head -c 300 "$DIR/err")"
            return
        fi
    done
    log "$bench/$impl done"
}

backends=(epoll)
if [[ -x $OUT/io_sys ]] && SIMUL_BACKEND=io_uring "$OUT/io_sys" pool 10 >/dev/null 2>&1; then
    backends+=(io_uring)
else
    log "io_uring backend not available here: only epoll"
fi

if [[ -x $OUT/io_sys ]]; then
    for be in "${backends[@]}"; do
        run pool "simul-$be" env SIMUL_BACKEND=$be "$OUT/io_sys" pool "$POOL_N"
        run append "simul-$be" env SIMUL_BACKEND=$be "$OUT/io_sys" append "$APPEND_N" "$DIR/simul.txt" 1
        run append "simul-$be-unbuffered" env SIMUL_BACKEND=$be "$OUT/io_sys" append "$UNBUF_N" "$DIR/simul.txt" 0
        run lines "simul-$be" env SIMUL_BACKEND=$be "$OUT/io_sys" lines "$LINES_N"
        calls lines "simul-$be" env SIMUL_BACKEND=$be "$OUT/io_sys" lines "$LINES_N"
    done
fi
for loop in asyncio uvloop; do
    run pool "$loop" $PY bench/peers/sys_asyncio.py pool "$PY_POOL_N" $loop
    run append "aiofiles-$loop" $PY bench/peers/sys_asyncio.py append "$PY_APPEND_N" "$DIR/py.txt" $loop
    run lines "streams-$loop" $PY bench/peers/sys_asyncio.py lines "$LINES_N" $loop
    calls lines "streams-$loop" $PY bench/peers/sys_asyncio.py lines "$LINES_N" $loop
done

$PY - "$RAW" bench/results/io-sys.json "$CALLS" <<'PYEOF'
import json, os, platform, statistics, sys
raw, out, callsf = sys.argv[1], sys.argv[2], sys.argv[3]
runs = {}
for line in open(raw):
    d = json.loads(line)
    runs.setdefault((d["bench"], d["impl"]), []).append(d["r"])
ncalls = {}
for line in open(callsf):
    d = json.loads(line)
    ncalls[(d["bench"], d["impl"])] = d["calls"]
res = {"machine": {"cpus": os.cpu_count(), "kernel": platform.release(),
                   "python": platform.python_version()},
       "unit": "ns per operation (median of runs); ratio = impl / simul-epoll"}
titles = {"pool": "thread pool round trip (to_thread / run_in_executor of a no-op)",
          "append": "append one short line (one write call per line, open+close included)",
          "lines": "write one short line to a stream (one write call per line; calls = send/write system calls per run)"}
for bench in ("pool", "append", "lines"):
    rows = {}
    for (b, impl), rs in runs.items():
        if b != bench:
            continue
        rows[impl] = {"n": rs[0]["n"], "runs": len(rs),
                      "ns_per_op": statistics.median(r["ns_per_op"] for r in rs),
                      "cpu_ns_per_op": statistics.median(r["cpu_s"] * 1e9 / r["n"] for r in rs),
                      "all_ns_per_op": [r["ns_per_op"] for r in rs],
                      "calls": ncalls.get((bench, impl))}
    base = rows.get("simul-epoll", {}).get("ns_per_op")
    for r in rows.values():
        r["ratio_vs_simul_epoll"] = round(r["ns_per_op"] / base, 2) if base else None
    res[bench] = rows
    print(f"\n{titles[bench]}")
    print(f"{'impl':28} {'n':>9} {'ns/op':>10} {'cpu ns/op':>10} {'x simul-epoll':>14} {'calls':>8}")
    for impl, r in sorted(rows.items(), key=lambda kv: kv[1]["ns_per_op"]):
        ratio = f"{r['ratio_vs_simul_epoll']:.2f}" if r["ratio_vs_simul_epoll"] else "-"
        nc = r["calls"] if r["calls"] is not None else "-"
        print(f"{impl:28} {r['n']:>9} {r['ns_per_op']:>10.1f} {r['cpu_ns_per_op']:>10.1f} {ratio:>14} {nc:>8}")
json.dump(res, open(out, "w"), indent=2)
print(f"\nwrote {out}")
PYEOF
