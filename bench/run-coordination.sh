#!/usr/bin/env bash
# run-coordination.sh - the coordination layer's benchmarks side by side with
# Go (GOMAXPROCS=1) and Python asyncio / uvloop (Debian's /usr/bin/python3):
#
#   queue     1 producer, 1 consumer, maxsize 128        ns per item
#   pingpong  2 tasks, 2 unbounded queues (Go: unbuffered channels)
#                                                        ns per round trip
#   sem       10k tasks, semaphore of 100, hold across one yield
#                                                        ns per acquire/release
#
# See bench/coordination.c and the peers in bench/peers/coord_* for exactly
# what each one does. simul and Go run the brief's sizes (10M items, 1M round
# trips, 1M acquisitions); the Python peers run fewer iterations so each run
# stays well under 20 s - all figures are per operation. simul and Go take
# the median of 3 runs, the Python peers one run. Prints a table with
# peer/simul ratios (above 1: simul is that many times cheaper) and writes
# bench/results/coordination.json.
#
# Environment: CC (default cc), CFLAGS (default -O2), SIMUL_LIB (default
# build/libsimul.a), SIMUL_BENCH_NO_MAKE=1 to skip `make`. Whatever cannot be
# built or run is reported and skipped, not fatal.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
OUT=build/bench
RES=bench/results
mkdir -p "$OUT" "$RES"
PY=/usr/bin/python3
log() { echo "run-coordination: $*" >&2; }

# ---- simul ---------------------------------------------------------------
LIB=${SIMUL_LIB:-build/libsimul.a}
if [[ -z ${SIMUL_BENCH_NO_MAKE:-} && -f Makefile ]]; then
    make -s >&2 || log "make failed; benchmarking whatever $LIB there is"
fi
rm -f "$OUT/coordination"
if [[ -f $LIB ]]; then
    for libs in "-lm -lpthread" "-lm -lpthread -luring"; do
        # shellcheck disable=SC2086 # CFLAGS and libs are word lists
        ${CC:-cc} ${CFLAGS:--O2} -std=gnu11 -Wall -Iinclude bench/coordination.c "$LIB" $libs \
            -o "$OUT/coordination" 2>"$OUT/coordination.link.log" && break
    done
    [[ -x $OUT/coordination ]] || { log "could not build bench/coordination.c:"; cat "$OUT/coordination.link.log" >&2; }
else
    log "$LIB not found: simul is skipped"
fi

# ---- Go ------------------------------------------------------------------
rm -f "$OUT/coord_go"
if command -v go >/dev/null; then
    [[ -z ${HOME:-} ]] && export GOCACHE=$ROOT/$OUT/go-cache GOPATH=$ROOT/$OUT/go-path
    (cd bench/peers/coord_go && GOFLAGS="" GO111MODULE=off go build -o "$ROOT/$OUT/coord_go" main.go) >&2 ||
        log "go build failed; Go is skipped"
else
    log "go not installed; Go is skipped"
fi

# ---- run -----------------------------------------------------------------
# impl|executable that must exist|command|runs|N for queue|pingpong|sem
IMPLS=(
    "simul|$OUT/coordination|$OUT/coordination|3|10000000|1000000|1000000"
    "go|$OUT/coord_go|env GOMAXPROCS=1 $OUT/coord_go|3|10000000|1000000|1000000"
    "asyncio|$PY|$PY bench/peers/coord_asyncio.py|1|1000000|200000|200000"
    "uvloop|$PY|$PY bench/peers/coord_asyncio.py --uvloop|1|1000000|200000|200000"
)
lines=$(mktemp)
trap 'rm -f "$lines"' EXIT
for spec in "${IMPLS[@]}"; do
    IFS='|' read -r impl exe cmd runs nq np ns <<<"$spec"
    if [[ ! -x $exe ]]; then
        log "$impl: $exe missing, skipped"
        continue
    fi
    if [[ $impl == uvloop ]] && ! $PY -c 'import uvloop' 2>/dev/null; then
        log "python3-uvloop not installed: uvloop skipped"
        continue
    fi
    for bn in "queue $nq" "pingpong $np" "sem $ns"; do
        for ((r = 0; r < runs; r++)); do
            # shellcheck disable=SC2086 # cmd and bn are word lists
            if ! res=$(timeout 120 $cmd $bn 2>&1 | tail -n 1) || [[ $res != "{"* ]]; then
                log "$impl $bn failed: $res"
                break
            fi
            echo "$impl $res" >>"$lines"
        done
    done
done

$PY - "$lines" "$RES/coordination.json" <<'EOF'
import json, platform, statistics, subprocess, sys, datetime
rows = {}
for line in open(sys.argv[1]):
    impl, js = line.split(" ", 1)
    try:
        r = json.loads(js)
    except ValueError:
        continue
    if "ns_per_op" in r:
        rows.setdefault((r["bench"], impl), []).append(r)
impls = ["simul", "go", "asyncio", "uvloop"]
labels = {"queue": "queue (maxsize 128)  ns/item", "pingpong": "ping-pong            ns/round trip",
          "sem": "semaphore 100/10k    ns/acq+rel"}
targets = {"queue": 15, "pingpong": 40, "sem": 30}
result = {"date": datetime.datetime.utcnow().isoformat(timespec="seconds") + "Z",
          "machine": {"cpu": subprocess.run("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2",
                                            shell=True, capture_output=True, text=True).stdout.strip(),
                      "nproc": subprocess.run("nproc", capture_output=True, text=True).stdout.strip(),
                      "kernel": platform.release()},
          "benchmarks": {}}
print("%-36s %10s %10s %10s %10s   %s" % ("benchmark", *impls, "peer/simul (go, asyncio, uvloop)"))
for b in ["queue", "pingpong", "sem"]:
    entry = {"target_ns": targets[b]}
    med = {}
    for impl in impls:
        rs = rows.get((b, impl))
        if not rs:
            continue
        v = statistics.median(r["ns_per_op"] for r in rs)
        med[impl] = v
        entry[impl] = {"ns_per_op": v, "n": rs[0]["n"], "runs": [r["ns_per_op"] for r in rs]}
    ratios = {}
    if "simul" in med:
        for impl in impls[1:]:
            if impl in med:
                ratios[impl] = round(med[impl] / med["simul"], 2)
    entry["ratio_peer_over_simul"] = ratios
    result["benchmarks"][b] = entry
    cells = ["%10.1f" % med[i] if i in med else "%10s" % "-" for i in impls]
    print("%-36s %s   %s" % (labels[b], " ".join(cells),
                             ", ".join("%sx" % ratios[i] if i in ratios else "-" for i in impls[1:])))
json.dump(result, open(sys.argv[2], "w"), indent=2)
print("wrote", sys.argv[2])
EOF
