#!/usr/bin/env bash
# run-crawl.sh - the crawl benchmark (bench/run.sh crawl): simul-crawl
# beside wget2, Scrapy, the walkthrough's areq.py and curl -Z on one local
# site, in one run; and link extraction alone beside Python's parsers.
#
#   bench/run-crawl.sh [--impls simul-crawl,simul-crawl-2,wget2-20,wget2-50,scrapy,areq.py,curl]
#                      [--no-parse]
#
# The site: Debian's Python documentation mirrored 20 times
# (scripts/corpus.sh: /m0/ ... /m19/, symlinks under a temp root) served by
# the tests' private nginx (tests/http/nginx.sh, gzip off, keep-alive)
# pinned to CPU 0; every client runs pinned to CPU 1. Seeds: the 20 pages
# /mK/index.html. The truth is bench/peers/crawl_truth.py's reference BFS
# over the files (html5lib links, urljoin, fragments dropped, existing
# files on the host only): 10,520 HTML pages and 100 other files (CSS,
# SVG, XML, a .py download) that <link>/<a> point at.
#   simul-crawl  build/tools/simul-crawl -q -c 50 --per-host 50 --delay 0
#                (the site is one host: the per-host limit is the global
#                one, as for the peers); skipped with a line saying so
#                until tools/crawl is built
#   simul-crawl-2  the same with --loops 2 on CPUs 0 and 1 (nginx keeps
#                CPU 0: on this 2-CPU machine the second loop shares it
#                with the server, so the row says what 2 loops cost here,
#                not how they scale), alternated with simul-crawl-1cpus2
#                (--loops 1 on the same two CPUs) and simul-crawl
#                CRAWL_LOOPS_ROUNDS times (default 3): the medians are kept
#   wget2-20/50  wget2 -r -l 0 --max-threads 20 / 50 --delete-after
#                (Debian's wget2; URLs from its --stats-site CSV)
#   scrapy       bench/peers/crawl_scrapy.py: a CrawlSpider, 100
#                concurrent requests, capped at CRAWL_SCRAPY_PAGES (200)
#                pages: pages/s is over the pages it fetched, missing
#                pages are not counted for it (extra ones are)
#   areq.py      the walkthrough's areq.py over the first CRAWL_AREQ_PY_URLS
#                (1,000) HTML pages of the truth as a flat list (no
#                recursion), time-capped at 60 s
#   curl         curl -Z --parallel-max 50 over the truth's 10,620 URLs:
#                fetching without parsing, the ceiling of a crawler
# Figures per row: pages/s (HTML pages with status 200 / the process's
# wall time, start-up included), CPU seconds (user + sys), peak RSS
# (/usr/bin/time), HTML pages missing and extra against the truth, other
# URLs fetched (CSS, images, ...). Ratios simul-crawl / wget2 and / Scrapy.
# Link extraction alone: build/bench/parse (bench/parse.c: MB/s of HTML
# through simul_links_feed over the 530 pages in memory, one core; URL
# resolve + normalise ns/link) beside Python's html.parser and html5lib
# over the same pages and urllib.parse.urljoin over the same links
# (bench/peers/crawl_parse.py). One round (the crawls are long); the
# load average at the end is in the JSON: compare rows of one run only.
# Results: bench/results/crawl.json.
#
# Environment: CRAWL_MIRRORS (20), CRAWL_CONNS (50), CRAWL_SCRAPY_PAGES
# (200), CRAWL_AREQ_PY_URLS (1000), SIMUL_SHARED (where walkthrough/ is),
# SIMUL_BENCH_NO_MAKE=1, SIMUL_BENCH_NO_INSTALL=1.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
OUT=build/bench
mkdir -p "$OUT" bench/results
PY=/usr/bin/python3

log() { echo "run-crawl: $*" >&2; }

mirrors=${CRAWL_MIRRORS:-20}
conns=${CRAWL_CONNS:-50}
scrapy_pages=${CRAWL_SCRAPY_PAGES:-200}
areq_py_urls=${CRAWL_AREQ_PY_URLS:-1000}
impls="simul-crawl,simul-crawl-2,wget2-20,wget2-50,scrapy,areq.py,curl"
parse=1
while (($#)); do
    case $1 in
    --impls) impls=$2; shift ;;
    --no-parse) parse=0 ;;
    *) echo "usage: run-crawl.sh [--impls LIST] [--no-parse]" >&2; exit 2 ;;
    esac
    shift
done
want() { [[ ",$impls," == *",$1,"* ]]; }

if [[ -z ${SIMUL_BENCH_NO_INSTALL:-} ]]; then
    scripts/deps.sh bench >&2 || log "scripts/deps.sh failed; going on with what is installed"
fi
if (($(nproc) < 2)); then
    log "needs 2 CPUs (nginx on 0, the crawler on 1); found $(nproc)"
    exit 1
fi
if [[ -z ${SIMUL_BENCH_NO_MAKE:-} && -f Makefile ]]; then
    make -s >&2 || log "make failed; benchmarking whatever build/ has"
fi
crawler=$ROOT/build/tools/simul-crawl
simul_status=ok
[[ -x $crawler ]] || simul_status="skipped: build/tools/simul-crawl is not built (tools/crawl not on this branch yet)"
log "simul-crawl: $simul_status"

tmp=$(mktemp -d)
cleanup() {
    tests/http/nginx.sh stop "$tmp/nginx" >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ulimit -n 8192 2>/dev/null || ulimit -n 4096 2>/dev/null || true

scripts/corpus.sh "$tmp/corpus" "$mirrors" >/dev/null || exit 1
NGINX_GZIP=off tests/http/nginx.sh start "$tmp/nginx" "$tmp/corpus" 0 >/dev/null || exit 1
# shellcheck disable=SC1091
. "$tmp/nginx/env"
for ((i = 0; i < mirrors; i++)); do echo "$NGINX_URL/m$i/index.html"; done >"$tmp/seeds.txt"
log "the truth: reference BFS over the files (html5lib; cached in $OUT/crawl-links.json)"
truth=$tmp/truth.txt
$PY bench/peers/crawl_truth.py "$tmp/corpus" "$mirrors" "$NGINX_URL" "$truth" \
    "$ROOT/$OUT/crawl-links.json" >"$tmp/truth.json" || exit 1
log "truth: $(cat "$tmp/truth.json") from $mirrors seeds on $NGINX_URL (nginx pid $NGINX_PID on CPU 0)"
awk '{ printf "url = \"%s\"\noutput = \"/dev/null\"\n", $0 }' "$truth" >"$tmp/curl.cfg"
# Warm-up: every URL once (page cache, nginx's worker).
curl -s --no-progress-meter -Z --parallel-max "$conns" -K "$tmp/curl.cfg" >/dev/null 2>&1

results=$ROOT/$OUT/crawl-results.jsonl
: >"$results"

# Runs a client on CPU 1 under /usr/bin/time, then turns its output into
# the list of URLs it fetched with status 200 (HOW: simul-crawl, wget2,
# scrapy, areq.py, curl) and appends one JSON line of figures.
measure() { # NAME HOW cmd...  (CPUS: taskset's list, default 1)
    local name=$1 how=$2 st line
    shift 2
    rm -rf "$tmp/job" && mkdir -p "$tmp/job"
    log "$name ..."
    (cd "$tmp/job" && taskset -c "${CPUS:-1}" /usr/bin/time -f '%e %U %S %M' -o "$tmp/time" \
        "$@" >"$tmp/out" 2>"$tmp/err")
    st=$?
    line=$($PY - "$name" "$how" "$st" "$tmp" "$truth" <<'PYEOF'
import csv, json, os, re, sys
name, how, st, tmp, truth = sys.argv[1:6]
t = open(os.path.join(tmp, "time")).read().split()
wall, user, sys_, rss = float(t[-4]), float(t[-3]), float(t[-2]), int(t[-1])
job = os.path.join(tmp, "job")
err = open(os.path.join(tmp, "err"), errors="replace").read()
out = open(os.path.join(tmp, "out"), errors="replace").read()
urls, errors = [], 0
if how == "simul-crawl":
    for l in open(os.path.join(job, "crawl", "pages.jsonl"), errors="replace"):
        try:
            r = json.loads(l)
        except ValueError:
            continue
        if r.get("status") == 200:
            urls.append(r["url"])
        else:
            errors += 1
elif how == "wget2":
    for r in csv.DictReader(open(os.path.join(job, "stats.csv"), errors="replace")):
        if r["Status"] == "200":
            urls.append(r["URL"])
        elif not r["URL"].endswith("/robots.txt"):
            errors += 1
elif how == "scrapy":
    urls = [l.strip() for l in open(os.path.join(job, "fetched.txt")) if l.strip()]
    errors = json.loads(out.strip().splitlines()[-1]).get("errors", 0) if out.strip() else 0
elif how == "areq.py":
    urls = re.findall(r"Got response \[200\] for URL: (\S+)", err)
    errors = len(re.findall(r"ERROR:areq:", err))
elif how == "curl":
    for l in out.splitlines():
        code, _, u = l.partition(" ")
        if code == "200":
            urls.append(u)
        else:
            errors += 1
want = set(l.strip() for l in open(truth) if l.strip())
want_html = {u for u in want if u.split("?")[0].endswith(".html")}
# Fragments never reach a server; one trailing form of each URL.
got = [u.split("#")[0] for u in urls]
html = [u for u in got if u.split("?")[0].endswith(".html")]
dup = len(got) - len(set(got))
r = {"client": name, "exit": int(st), "wall_s": wall, "cpu_s": round(user + sys_, 2),
     "rss_mb": round(rss / 1024, 1), "pages": len(set(html)), "other_urls": len(set(got) - set(html)),
     "duplicates": dup, "errors": errors,
     "missing": len(want_html - set(html)), "extra": len(set(html) - want_html),
     "other_not_in_truth": len((set(got) - set(html)) - want)}
r["pages_per_s"] = round(r["pages"] / wall, 1) if wall > 0 else 0
r["cpu_ms_per_page"] = round(1000 * r["cpu_s"] / r["pages"], 3) if r["pages"] else None
print(json.dumps(r))
PYEOF
    ) || { log "$name: cannot read its output (exit $st): $(tail -n 3 "$tmp/err")"; return; }
    echo "$line" >>"$results"
    log "  $line"
}

if want simul-crawl-2 && [[ -x $crawler ]]; then
    # --loops 2 beside --loops 1 on the same CPUs and on CPU 1 alone, in
    # the same minutes (alternated); each row keeps its median round
    : >"$tmp/loops.jsonl"
    for ((round = 0; round < ${CRAWL_LOOPS_ROUNDS:-3}; round++)); do
        for v in simul-crawl:1:1 simul-crawl-1cpus2:1:0,1 simul-crawl-2:2:0,1; do
            IFS=: read -r name loops cpus <<<"$v"
            CPUS=$cpus measure "$name" simul-crawl "$crawler" -q -o crawl -c "$conns" \
                --per-host "$conns" --delay 0 --loops "$loops" -i "$tmp/seeds.txt"
        done
    done
    # the rounds' lines out of the results, their medians back in
    grep -E '"client": "simul-crawl(-1cpus2|-2)?"' "$results" >"$tmp/loops.jsonl"
    grep -vE '"client": "simul-crawl(-1cpus2|-2)?"' "$results" >"$tmp/rest.jsonl"
    mv "$tmp/rest.jsonl" "$results"
    $PY - "$tmp/loops.jsonl" >>"$results" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
for name in ("simul-crawl", "simul-crawl-1cpus2", "simul-crawl-2"):
    rs = sorted((r for r in rows if r["client"] == name), key=lambda r: r["pages_per_s"])
    if rs:
        m = dict(rs[len(rs) // 2])
        m["rounds_pages_per_s"] = [r["pages_per_s"] for r in rs]
        print(json.dumps(m))
PYEOF
elif want simul-crawl && [[ -x $crawler ]]; then
    measure simul-crawl simul-crawl "$crawler" -q -o crawl -c "$conns" --per-host "$conns" \
        --delay 0 -i "$tmp/seeds.txt"
fi
for n in 20 50; do
    want "wget2-$n" && command -v wget2 >/dev/null &&
        measure "wget2-$n" wget2 wget2 -q -r -l 0 --max-threads="$n" --delete-after \
            --no-host-directories --stats-site=csv:stats.csv -o wget2.log -i "$tmp/seeds.txt"
done
if want scrapy; then
    if $PY -c 'import scrapy' 2>/dev/null; then
        measure scrapy scrapy timeout 120 $PY "$ROOT/bench/peers/crawl_scrapy.py" "$tmp/seeds.txt" \
            fetched.txt "$scrapy_pages"
    else
        log "scrapy: python3-scrapy is not installed; its row is skipped"
    fi
fi
# areq.py, from the walkthrough (bench/peers/areq_py.sh), over a flat list.
if want areq.py && bench/peers/areq_py.sh "$tmp/areq" 2>/dev/null; then
    grep '\.html$' "$truth" | head -n "$areq_py_urls" >"$tmp/areq/urls.txt"
    # areq.py reads urls.txt and writes foundurls.txt beside itself.
    measure areq.py areq.py sh -c "cd '$tmp/areq' && rm -f foundurls.txt && timeout 60 $PY areq.py"
elif want areq.py; then
    log "areq.py: no ../shared/walkthrough; its row is skipped"
fi
want curl && measure curl curl curl -s --no-progress-meter -Z --parallel-max "$conns" \
    -K "$tmp/curl.cfg" -w '%{http_code} %{url_effective}\n'

# ---- link extraction alone ---------------------------------------------------
: >"$ROOT/$OUT/crawl-parse.txt"
if ((parse)); then
    docs=$(readlink -f "${SIMUL_CORPUS_SRC:-/usr/share/doc/python3/html}")
    if [[ -x build/bench/parse ]]; then
        log "link extraction: build/bench/parse (CPU 1)"
        taskset -c 1 build/bench/parse 2 "$docs" >>"$ROOT/$OUT/crawl-parse.txt"
    fi
    log "link extraction: Python html.parser, html5lib, urljoin (CPU 1)"
    taskset -c 1 $PY bench/peers/crawl_parse.py "$docs" 10 >>"$ROOT/$OUT/crawl-parse.txt"
fi

# ---- table and JSON -------------------------------------------------------
$PY - "$results" bench/results/crawl.json "$tmp/truth.json" "$mirrors" "$conns" \
    "$simul_status" "$scrapy_pages" "$areq_py_urls" "$ROOT/$OUT/crawl-parse.txt" <<'PYEOF'
import json, os, platform, subprocess, sys, time
res, out, truthf, mirrors, conns, simul_status, scrapy_pages, areq_urls, parsef = sys.argv[1:10]
rows = [json.loads(l) for l in open(res) if l.strip()]
truth = json.load(open(truthf))
load = os.getloadavg()
print(f"\nCrawl: Python docs x {mirrors} from {mirrors} seeds, truth {truth['html']:,} HTML pages "
      f"+ {truth['other']} other files; nginx on CPU 0, crawler on CPU 1; "
      f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
print(f"{'client':<20}{'pages/s':>9}{'CPU s':>8}{'RSS MB':>8}{'pages':>7}{'missing':>9}"
      f"{'extra':>7}{'other':>7}{'dups':>6}{'errors':>7}")
for r in rows:
    miss = "-" if r["client"] in ("scrapy", "areq.py") else r["missing"]
    print(f"{r['client']:<20}{r['pages_per_s']:>9,.0f}{r['cpu_s']:>8.1f}{r['rss_mb']:>8.1f}"
          f"{r['pages']:>7}{miss:>9}{r['extra']:>7}{r['other_urls']:>7}{r['duplicates']:>6}"
          f"{r['errors']:>7}")
by = {r["client"]: r for r in rows}
if "simul-crawl" not in by:
    print(f"simul-crawl {simul_status}")
ratios = {}
s = by.get("simul-crawl")
for peer in ("wget2-20", "wget2-50", "scrapy", "curl"):
    p = by.get(peer)
    if s and p and p["pages_per_s"]:
        ratios[f"simul-crawl/{peer}"] = {
            "pages_per_s": round(s["pages_per_s"] / p["pages_per_s"], 2),
            "rss": round(s["rss_mb"] / p["rss_mb"], 2) if p["rss_mb"] else None}
# --loops 2 against --loops 1 on the same two CPUs, and on CPU 1 alone
s2 = by.get("simul-crawl-2")
for base in ("simul-crawl-1cpus2", "simul-crawl"):
    p = by.get(base)
    if s2 and p and p["pages_per_s"]:
        ratios[f"simul-crawl-2/{base}"] = {
            "pages_per_s": round(s2["pages_per_s"] / p["pages_per_s"], 2),
            "rss": round(s2["rss_mb"] / p["rss_mb"], 2) if p["rss_mb"] else None,
            "cpu": round(s2["cpu_s"] / p["cpu_s"], 2) if p["cpu_s"] else None}
for k, v in ratios.items():
    print(f"{k:<36} pages/s {v['pages_per_s']:.2f}x  RSS {v['rss']}x"
          + (f"  CPU {v['cpu']}x" if v.get("cpu") else ""))
parse = {}
for l in open(parsef):
    f = l.split()
    if len(f) >= 3 and f[-1] in ("ns/link", "GB/s", "MB/s"):
        v = float(f[-2])
        parse[f[0]] = {"value": v * 1000 if f[-1] == "GB/s" else v,
                       "unit": "MB/s" if f[-1] in ("GB/s", "MB/s") else f[-1]}
if parse:
    print("\nLink extraction alone (one core, the 530 pages in memory):")
    for k, v in parse.items():
        print(f"  {k:<28}{v['value']:>10,.1f} {v['unit']}")
def ver(cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
        return (p.stdout or p.stderr).splitlines()[0]
    except Exception:
        return None
doc = {
    "what": "Crawl the Python documentation mirrored MIRRORS times (scripts/corpus.sh) from "
            "the MIRRORS seeds /mK/index.html, served by the tests' nginx (gzip off) pinned "
            "to CPU 0, each crawler pinned to CPU 1. pages = distinct HTML URLs fetched with "
            "status 200; pages/s = pages / process wall time (start-up included); CPU = "
            "user+sys; RSS = peak (/usr/bin/time). missing/extra: HTML pages against the "
            "reference BFS (bench/peers/crawl_truth.py). Scrapy is capped at SCRAPY_PAGES "
            "pages (its missing count is not meaningful); areq.py fetches a flat list of "
            "AREQ_URLS pages, time-capped at 60 s; curl -Z fetches the truth's URLs without "
            "parsing. One round; simul-crawl, simul-crawl-1cpus2 (--loops 1 on CPUs 0-1) "
            "and simul-crawl-2 (--loops 2 on CPUs 0-1) alternated CRAWL_LOOPS_ROUNDS "
            "times, each its median round (rounds_pages_per_s: all of them).",
    "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    "mirrors": int(mirrors), "conns": int(conns), "scrapy_pages": int(scrapy_pages),
    "areq_urls": int(areq_urls), "truth": truth, "simul_crawl": simul_status,
    "machine": {"cpus": os.cpu_count(), "kernel": platform.release(), "loadavg_at_end": load},
    "versions": {"wget2": ver(["wget2", "--version"]), "curl": ver(["curl", "--version"]),
                 "nginx": ver(["/usr/sbin/nginx", "-v"]), "python": platform.python_version(),
                 "scrapy": ver(["/usr/bin/python3", "-c", "import scrapy; print(scrapy.__version__)"])},
    "results": rows, "ratios": ratios, "link_extraction": parse,
}
json.dump(doc, open(out, "w"), indent=2)
print(f"\nwritten {out}")
PYEOF
