#!/usr/bin/env bash
# site.sh - starts and stops the crawler tests' generated site: the pages,
# nginx config and truth of tests/crawl/gensite.py served by a private nginx
# on 127.0.0.1-5 (free port), faultd (tests/http/faultd.c) as a sixth host,
# and with --meter the per-host connection meter (tests/crawl/connmeter.py)
# in front of nginx. Everything lives in DIR.
#
#   tests/crawl/site.sh start DIR BUILDDIR [--meter] [GENSITE OPTIONS...]
#   tests/crawl/site.sh stop DIR
#
# start writes DIR/env (and prints it): SITE_PORT (the crawler's port on
# every host), SITE_SEEDS (a seed file), SITE_TRUTH (truth.json),
# SITE_LOG (nginx's access log, see gensite.py's LOG_FORMAT), SITE_METER
# (the meter's event log, empty without --meter), FAULT_PORT. A caller
# traps `site.sh stop DIR` so nothing outlives it.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
PY=/usr/bin/python3
# shellcheck source=tests/proc.sh
source tests/proc.sh   # alive, wait_gone, free_ports
# A failed start stops what it had started (set once DIR is known).
started=
die() {
    echo "site.sh: $*" >&2
    [[ -n $started ]] && stop "$started"
    exit 1
}

start() {
    local d=$1 b=$2 meter=0 p q f pid try
    shift 2
    [[ ${1:-} == --meter ]] && { meter=1; shift; }
    mkdir -p "$d" && d=$(cd "$d" && pwd) || die "cannot create $1"
    started=$d
    [[ -x $b/tests/faultd ]] || die "no $b/tests/faultd (ninja -C $b)"
    "$b/tests/faultd" >"$d/faultd.port" 2>"$d/faultd.log" &
    echo $! >"$d/faultd.pid"
    for _ in $(seq 100); do [[ -s $d/faultd.port ]] && break; sleep 0.02; done
    f=$(head -n 1 "$d/faultd.port")
    [[ -n $f ]] || die "faultd did not start: $(cat "$d/faultd.log")"
    for try in 1 2 3 4 5 6 7 8; do
        read -r p q < <(free_ports 2)
        ((meter)) || q=$p
        rm -rf "$d/root"
        $PY tests/crawl/gensite.py "$d" --port "$p" --nginx-port "$q" --fault-port "$f" "$@" \
            >"$d/gensite.log" 2>&1 || die "gensite.py failed: $(cat "$d/gensite.log")"
        : >"$d/access.log"
        : >"$d/error.log"
        rm -f "$d/nginx.pid"
        if /usr/sbin/nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log" 2>>"$d/error.log"; then
            for _ in $(seq 100); do [[ -s $d/nginx.pid ]] && break; sleep 0.02; done
            pid=$(cat "$d/nginx.pid" 2>/dev/null)
            [[ -n $pid ]] && alive "$pid" && break
        fi
        grep -q "Address already in use" "$d/error.log" || die "nginx: $(cat "$d/error.log")"
        pid=
    done
    [[ -n $pid ]] || die "no free port after $try tries"
    : >"$d/meter.log"
    if ((meter)); then
        local pairs=() n
        for n in 1 2 3 4 5; do pairs+=("127.0.0.$n:$p=127.0.0.$n:$q"); done
        $PY tests/crawl/connmeter.py "$d/meter.log" "${pairs[@]}" >"$d/meter.out" 2>&1 &
        echo $! >"$d/meter.pid"
        for _ in $(seq 150); do grep -q ready "$d/meter.out" && break; sleep 0.02; done
        grep -q ready "$d/meter.out" || die "the meter did not start: $(cat "$d/meter.out")"
    fi
    cat >"$d/env" <<EOF
SITE_PORT=$p
SITE_SEEDS=$d/seeds.txt
SITE_TRUTH=$d/truth.json
SITE_LOG=$d/access.log
SITE_METER=$d/meter.log
FAULT_PORT=$f
EOF
    cat "$d/env"
}

stop() {
    local d=$1 pid
    [[ -d $d ]] || return 0
    d=$(cd "$d" && pwd)
    for f in meter faultd; do
        pid=$(cat "$d/$f.pid" 2>/dev/null) || continue
        kill -TERM "$pid" 2>/dev/null
        wait_gone "$pid" 100 || kill -KILL "$pid" 2>/dev/null
        rm -f "$d/$f.pid"
    done
    tests/http/nginx.sh stop "$d"
}

case ${1:-} in
start) (($# >= 3)) || die "usage: site.sh start DIR BUILDDIR [--meter] [OPTIONS]"; shift; start "$@" ;;
stop)  (($# >= 2)) || die "usage: site.sh stop DIR"; stop "$2" ;;
*)     die "usage: site.sh start DIR BUILDDIR [--meter] [OPTIONS] | stop DIR" ;;
esac
