#!/usr/bin/env bash
# run-core.sh - simul's core benchmarks side by side with Python asyncio,
# uvloop and Go: switch, spawn+join, parked tasks, timers, at 1k..1M tasks.
#
#   bench/run-core.sh [--quick] [--impls simul,asyncio,uvloop,go]
#
# Installs the Debian packages it needs (only those missing), builds
# build/libsimul.a (make), build/bench/core and build/bench/core_go, then runs
# bench/core_driver.py, which prints the table and writes
# bench/results/core.json and bench/results/core.png.
#
# Environment: CC (default cc), CFLAGS for bench/core.c (default -O2),
# SIMUL_LIB (default build/libsimul.a), SIMUL_BENCH_NO_MAKE=1 to skip `make`,
# SIMUL_BENCH_NO_INSTALL=1 to skip apt-get. Whatever cannot be built or
# installed is skipped (and reported), not fatal.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
OUT=build/bench
mkdir -p "$OUT"

log() { echo "run-core: $*" >&2; }

# ---- Debian packages: the project's one installer (only what is missing) --
if [[ -z ${SIMUL_BENCH_NO_INSTALL:-} ]]; then
    scripts/deps.sh bench >&2 || log "scripts/deps.sh failed; going on with what is installed"
fi

# ---- simul: the library and bench/core.c ---------------------------------
LIB=${SIMUL_LIB:-build/libsimul.a}
if [[ -z ${SIMUL_BENCH_NO_MAKE:-} && -f Makefile ]]; then
    make -s >&2 || log "make failed; benchmarking whatever $LIB there is"
fi
rm -f "$OUT/core"
if [[ -f $LIB ]]; then
    CC=${CC:-cc}
    CFLAGS=${CFLAGS:--O2}
    built=
    # the library may need more than libm (threads for call_soon_threadsafe,
    # liburing for the io_uring backend): try the likely sets in turn
    for libs in "-lm" "-lm -lpthread" "-lm -lpthread -luring" "-lm -lpthread -ldl"; do
        # shellcheck disable=SC2086 # CFLAGS and libs are word lists
        if $CC $CFLAGS -std=c11 -Wall -Iinclude bench/core.c "$LIB" $libs \
                -o "$OUT/core" 2>"$OUT/core.link.log"; then
            built=1
            break
        fi
    done
    if [[ -z $built ]]; then
        log "could not build bench/core.c against $LIB:"
        cat "$OUT/core.link.log" >&2
    fi
else
    log "$LIB not found: simul is skipped (build the library first)"
fi

# ---- Go peer ------------------------------------------------------------
rm -f "$OUT/core_go"
if command -v go >/dev/null; then
    # keep Go's caches inside build/ when there is no HOME to put them in
    [[ -z ${HOME:-} ]] && export GOCACHE=$ROOT/$OUT/go-cache GOPATH=$ROOT/$OUT/go-path
    (cd bench/peers/core_go && GOFLAGS="" GO111MODULE=off \
        go build -o "$ROOT/$OUT/core_go" main.go) >&2 || log "go build failed; Go is skipped"
else
    log "go not installed; Go is skipped"
fi

exec /usr/bin/python3 bench/core_driver.py "$@"
