#!/usr/bin/env bash
# run-http.sh - the HTTP fetch benchmark: simul's HTTP client beside curl -Z,
# aiohttp and Go net/http (and wrk, the server's ceiling), all fetching the
# same pages from the same nginx in one run; and areq (examples/areq.c)
# beside the walkthrough's areq.py.
#
#   bench/run-http.sh [--quick] [--impls wrk,curl,aiohttp,go,simul,simul-read,areq]
#
# The corpus is Debian's Python documentation mirrored 20 times
# (scripts/corpus.sh: 530 pages x 20 = 10,600 URLs) served by the private
# nginx of the tests (tests/http/nginx.sh) pinned to CPU 0, plain HTTP/1.1,
# keep-alive, with gzip off so that every client receives the same bytes
# whatever it asks for (aiohttp and Go ask for gzip by default; with gzip
# on, nginx compressing on CPU 0 would be everyone's ceiling). Each client
# runs pinned to CPU 1, with 50 connections at once, reads every body and
# drops it:
#   wrk      wrk -t1 -c50 for HTTP_WRK_SECONDS cycling through the URLs
#            (bench/peers/http_wrk.lua): requests/s the server can give
#   curl     curl -Z --parallel-max 50 -K CONFIG (url= / output=/dev/null
#            lines): the same libcurl as simul, driven by curl's own loop
#   aiohttp  bench/peers/http_aiohttp.py: one ClientSession (limit=50),
#            50 worker tasks (Debian's python3-aiohttp, plain asyncio)
#   go       bench/peers/http_go: net/http, MaxConnsPerHost 50, 50
#            goroutines, GOMAXPROCS=1
#   simul    bench/http_fetch.c: one session (limit 50), 50 tasks, bodies
#            streamed (read_chunk); built only when include/simul/http.h
#            exists (until then: pending). simul-read: the same reading
#            whole bodies (simul_http_response_read, as aiohttp's read())
#   areq     build/examples/areq over the 10,600 URLs (default session
#            limit 100, as aiohttp's) beside the walkthrough's areq.py
#            (taken from ../shared/walkthrough) over the first
#            HTTP_AREQ_PY_URLS (1,000) of them, time-capped at 120 s: it
#            makes about 90 pages/s
# Figures: pages/s = pages / the client process's wall time (start-up
# included, the same for every client: /usr/bin/time), client CPU seconds
# per page (user + sys of the process), peak RSS; medians over
# HTTP_ROUNDS rounds (default 3; --quick: 1), the clients taking turns in
# each round. Ratios: simul / curl, aiohttp, Go (pages/s; CPU per page).
# Results: bench/results/http.json.
#
# Environment: HTTP_ROUNDS, HTTP_MIRRORS (20), HTTP_CONNS (50),
# HTTP_WRK_SECONDS (5), HTTP_AREQ_PY_URLS (1000), SIMUL_SHARED (where
# walkthrough/ is), SIMUL_BENCH_NO_MAKE=1, SIMUL_BENCH_NO_INSTALL=1.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
OUT=build/bench
mkdir -p "$OUT" bench/results
PY=/usr/bin/python3

log() { echo "run-http: $*" >&2; }

rounds=${HTTP_ROUNDS:-3}
mirrors=${HTTP_MIRRORS:-20}
conns=${HTTP_CONNS:-50}
wrk_secs=${HTTP_WRK_SECONDS:-5}
areq_py_urls=${HTTP_AREQ_PY_URLS:-1000}
impls="wrk,curl,aiohttp,go,simul,simul-read,areq"
while (($#)); do
    case $1 in
    --quick) rounds=1; wrk_secs=2 ;;
    --impls) impls=$2; shift ;;
    *) echo "usage: run-http.sh [--quick] [--impls LIST]" >&2; exit 2 ;;
    esac
    shift
done
want() { [[ ",$impls," == *",$1,"* ]]; }

# ---- Debian packages: the project's one installer (only what is missing) --
if [[ -z ${SIMUL_BENCH_NO_INSTALL:-} ]]; then
    scripts/deps.sh bench >&2 || log "scripts/deps.sh failed; going on with what is installed"
fi
if (($(nproc) < 2)); then
    log "needs 2 CPUs (nginx on 0, the client on 1); found $(nproc)"
    exit 1
fi

# ---- builds ---------------------------------------------------------------
CC=${CC:-cc}
if [[ -z ${SIMUL_BENCH_NO_MAKE:-} && -f Makefile ]]; then
    make -s >&2 || log "make failed; benchmarking whatever build/ has"
fi
rm -f "$OUT/http_go" "$OUT/http_fetch"
if want go && command -v go >/dev/null; then
    [[ -z ${HOME:-} ]] && export GOCACHE=$ROOT/$OUT/go-cache GOPATH=$ROOT/$OUT/go-path
    (cd bench/peers/http_go && GOFLAGS="" GO111MODULE=off \
        go build -o "$ROOT/$OUT/http_go" main.go) >&2 || log "go build failed; Go is skipped"
fi
simul_status="pending: include/simul/http.h is not on this branch yet"
if [[ -f include/simul/http.h ]]; then
    if [[ -f build/libsimul.so ]] &&
       $CC -O2 -Iinclude -o "$OUT/http_fetch" bench/http_fetch.c -Lbuild -lsimul \
           -Wl,-rpath,"$ROOT/build" >&2; then
        simul_status=ok
    else
        simul_status="not built: bench/http_fetch.c against build/libsimul.so failed"
    fi
fi
log "simul client: $simul_status"

# ---- the corpus and nginx ---------------------------------------------------
tmp=$(mktemp -d)
cleanup() {
    tests/http/nginx.sh stop "$tmp/nginx"
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ulimit -n 8192 2>/dev/null || ulimit -n 4096 2>/dev/null || true

scripts/corpus.sh "$tmp/corpus" "$mirrors" >/dev/null || exit 1
NGINX_GZIP=off tests/http/nginx.sh start "$tmp/nginx" "$tmp/corpus" 0 >/dev/null || exit 1
# shellcheck disable=SC1091
. "$tmp/nginx/env"
urls=$tmp/urls.txt
scripts/corpus.sh urls "$NGINX_URL" "$mirrors" >"$urls"
npages=$(wc -l <"$urls")
sed "s|^$NGINX_URL||" "$urls" >"$tmp/paths.txt"
awk '{ printf "url = \"%s\"\noutput = \"/dev/null\"\n", $0 }' "$urls" >"$tmp/curl.cfg"
log "$npages URLs on $NGINX_URL (nginx pid $NGINX_PID on CPU 0), $conns connections"

# Warm-up: every page once (page cache, nginx's worker).
curl -s --no-progress-meter -Z --parallel-max "$conns" -K "$tmp/curl.cfg" >/dev/null 2>&1

results=$ROOT/$OUT/http-results.jsonl
: >"$results"

# Runs a client on CPU 1 under /usr/bin/time; appends one JSON line.
# measure NAME PAGES_HOW cmd...; PAGES_HOW: json (the client prints
# {"pages":...}), curl (count the 200s curl's -w prints), wrk, areq, areq.py
measure() {
    local name=$1 how=$2 st line
    shift 2
    taskset -c 1 /usr/bin/time -f '%e %U %S %M' -o "$tmp/time" "$@" \
        >"$tmp/out" 2>"$tmp/err"
    st=$?
    if ((st != 0)) && [[ $how != areq.py ]]; then
        log "$name failed (exit $st): $(tail -n 3 "$tmp/err")"
        return
    fi
    line=$($PY - "$name" "$how" "$tmp/time" "$tmp/out" "$tmp/err" "$npages" <<'PYEOF'
import json, re, sys
name, how, tfile, ofile, efile, npages = sys.argv[1:7]
t = open(tfile).read().split()
# /usr/bin/time adds a "Command exited with non-zero status" line first.
wall, user, sys_, rss = float(t[-4]), float(t[-3]), float(t[-2]), int(t[-1])
out, err = open(ofile, errors="replace").read(), open(efile, errors="replace").read()
r = {"client": name, "wall_s": wall, "cpu_s": round(user + sys_, 3),
     "user_s": user, "sys_s": sys_, "rss_kb": rss}
if how == "json":
    r.update(json.loads(out.strip().splitlines()[-1]))
elif how == "curl":
    codes = out.split()
    r["pages"] = codes.count("200")
    r["errors"] = len(codes) - r["pages"]
elif how == "wrk":
    m = re.search(r"Requests/sec:\s*([\d.]+)", out)
    n = re.search(r"(\d+) requests in ([\d.]+)s", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: (.*)", out)
    r.update(pages=int(n.group(1)), seconds=float(n.group(2)),
             req_per_s=float(m.group(1)), errors=int(bad.group(1)) if bad else 0,
             socket_errors=sock.group(1) if sock else "")
elif how in ("areq", "areq.py"):
    r["pages"] = len(re.findall(r"INFO:areq: Got response \[200\]", err))
    r["errors"] = len(re.findall(r"ERROR:areq:", err))
    r["links_written"] = len(re.findall(r"Wrote results for source URL", err))
if how != "wrk":
    r["pages_per_s"] = round(r["pages"] / wall, 1) if wall > 0 else 0
else:
    r["pages_per_s"] = r["req_per_s"]
r["cpu_ms_per_page"] = round(1000 * r["cpu_s"] / r["pages"], 4) if r["pages"] else None
print(json.dumps(r))
PYEOF
    ) || { log "$name: cannot read its figures: $(tail -n 3 "$tmp/err")"; return; }
    echo "$line" >>"$results"
    log "  $line"
}

# areq.py, from the walkthrough (the text the project is built from).
have_areq_py=0
if want areq && bench/peers/areq_py.sh "$tmp/areq-py" 2>/dev/null; then
    have_areq_py=1
    head -n "$areq_py_urls" "$urls" >"$tmp/areq-py/urls.txt"
fi
[[ $have_areq_py == 1 ]] || { want areq && log "no areq.py (../shared/walkthrough missing): its row is skipped"; }
have_areq=0
want areq && [[ -x build/examples/areq ]] && have_areq=1
want areq && ((!have_areq)) && log "areq: build/examples/areq not built yet (examples/areq.c): its row is pending"
mkdir -p "$tmp/areq-c"
cp "$urls" "$tmp/areq-c/urls.txt"

for round in $(seq "$rounds"); do
    log "round $round of $rounds"
    want wrk && command -v wrk >/dev/null &&
        measure wrk wrk wrk -t1 -c"$conns" -d"${wrk_secs}s" -s bench/peers/http_wrk.lua \
            "$NGINX_URL" -- "$tmp/paths.txt"
    want curl && measure curl curl curl -s --no-progress-meter -Z --parallel-max "$conns" \
        -K "$tmp/curl.cfg" -w '%{http_code}\n'
    want aiohttp && measure aiohttp json $PY bench/peers/http_aiohttp.py "$urls" "$conns"
    want go && [[ -x $OUT/http_go ]] && measure go json env GOMAXPROCS=1 "$OUT/http_go" "$urls" "$conns"
    want simul && [[ -x $OUT/http_fetch ]] && measure simul json "$OUT/http_fetch" "$urls" "$conns"
    want simul-read && [[ -x $OUT/http_fetch ]] &&
        measure simul-read json "$OUT/http_fetch" "$urls" "$conns" read
    if ((have_areq)); then
        rm -f "$tmp/areq-c/foundurls.txt"
        (cd "$tmp/areq-c" && measure areq areq "$ROOT/build/examples/areq")
    fi
done
# areq.py once: it is the slow one.
if ((have_areq_py)); then
    (cd "$tmp/areq-py" && measure areq.py areq.py timeout 120 $PY areq.py)
fi

# ---- table and JSON -------------------------------------------------------
$PY - "$results" bench/results/http.json "$rounds" "$npages" "$conns" "$simul_status" \
    "$mirrors" "$areq_py_urls" <<'PYEOF'
import json, os, platform, statistics, subprocess, sys, time
res, out, rounds, npages, conns, simul_status, mirrors, areq_py_urls = sys.argv[1:9]
rows = [json.loads(l) for l in open(res) if l.strip()]
groups = {}
for r in rows:
    groups.setdefault(r["client"], []).append(r)
def med(rs, k):
    v = [r[k] for r in rs if r.get(k) is not None]
    return statistics.median(v) if v else None
table = {}
for c, rs in groups.items():
    table[c] = {"client": c, "runs": len(rs),
                "pages_per_s": med(rs, "pages_per_s"),
                "cpu_ms_per_page": med(rs, "cpu_ms_per_page"),
                "rss_mb": round(med(rs, "rss_kb") / 1024, 1),
                "pages": med(rs, "pages"), "errors": med(rs, "errors"),
                "samples": rs}
s = table.get("simul")
ratios = {}
if s:
    for peer in ("curl", "aiohttp", "go"):
        p = table.get(peer)
        if p and p["pages_per_s"] and p["cpu_ms_per_page"]:
            ratios[f"simul/{peer}"] = {
                "pages_per_s": round(s["pages_per_s"] / p["pages_per_s"], 3),
                "cpu_per_page": round(s["cpu_ms_per_page"] / p["cpu_ms_per_page"], 3)}
a, ap = table.get("areq"), table.get("areq.py")
if a and ap and ap["pages_per_s"]:
    ratios["areq/areq.py"] = {"pages_per_s": round(a["pages_per_s"] / ap["pages_per_s"], 2),
                              "rss": round(a["rss_mb"] / ap["rss_mb"], 3)}
load = os.getloadavg()
print(f"\nHTTP fetch: {npages} URLs (Python docs x {mirrors}), {conns} connections, "
      f"nginx on CPU 0, client on CPU 1; medians of {rounds} round(s); "
      f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
print(f"{'client':<11}{'pages/s':>10}{'CPU ms/page':>13}{'peak RSS MB':>13}{'pages':>8}{'errors':>8}")
order = ["wrk", "curl", "aiohttp", "go", "simul", "simul-read", "areq", "areq.py"]
for c in sorted(table, key=lambda c: order.index(c) if c in order else 99):
    t = table[c]
    cpu = f"{t['cpu_ms_per_page']:.3f}" if t["cpu_ms_per_page"] is not None else "-"
    print(f"{c:<11}{t['pages_per_s']:>10,.0f}{cpu:>13}{t['rss_mb']:>13.1f}"
          f"{t['pages']:>8.0f}{t['errors']:>8.0f}")
if "simul" not in table:
    print(f"simul     {simul_status}")
for k, v in ratios.items():
    print(f"{k:<14}" + "  ".join(f"{m} {x:.2f}x" for m, x in v.items()))
def ver(cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return (p.stdout or p.stderr).splitlines()[0]
    except Exception:
        return None
doc = {}
if os.path.exists(out):
    try:
        doc = json.load(open(out))
    except ValueError:
        doc = {}
doc["fetch"] = {
    "what": "GET every URL of the Python-docs corpus mirrored N times (scripts/corpus.sh) "
            "from the tests' nginx (tests/http/nginx.sh, gzip off, keep-alive) pinned to "
            "CPU 0; each client pinned to CPU 1 with CONNS connections, bodies read and "
            "dropped. pages/s = pages / process wall time (start-up included); CPU = "
            "user+sys of the client process (/usr/bin/time); medians over the rounds. "
            "wrk: requests/s over a fixed time, the server's ceiling. areq.py runs over "
            "the first AREQ_PY_URLS URLs only (time-capped).",
    "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    "urls": int(npages), "mirrors": int(mirrors), "conns": int(conns),
    "rounds": int(rounds), "areq_py_urls": int(areq_py_urls),
    "simul": simul_status,
    "machine": {"cpus": os.cpu_count(), "kernel": platform.release(),
                "loadavg_at_end": load},
    "versions": {"curl": ver(["curl", "--version"]), "nginx": ver(["/usr/sbin/nginx", "-v"]),
                 "go": ver(["go", "version"]), "python": platform.python_version(),
                 "aiohttp": ver(["/usr/bin/python3", "-c", "import aiohttp; print(aiohttp.__version__)"]),
                 "wrk": ver(["wrk", "-v"])},
    "results": list(table.values()),
    "ratios": ratios,
}
json.dump(doc, open(out, "w"), indent=2)
print(f"\nwritten {out}")
PYEOF
