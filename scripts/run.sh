#!/usr/bin/env bash
# run.sh - `make run`: the main job on an embedded default. Today that is
# simul-crawl (tools/crawl/, issue 10): a private nginx on a free loopback
# port (tests/http/nginx.sh) serves Python's HTML documentation (Debian's
# python3-doc, which scripts/deps.sh installs); BUILDDIR/tools/simul-crawl
# crawls it from its index page - progress line on a terminal, then the
# summary - into ./crawl (foundurls.tsv, pages.jsonl, graph.tsv,
# summary.json, state.db; a previous ./crawl is replaced), and the first
# lines of the outputs are shown. nginx is stopped whatever happens.
#
#   scripts/run.sh [BUILDDIR]              simul-crawl over the documentation
#   scripts/run.sh BUILDDIR areq           areq (the walkthrough's program) over
#                                          the same pages; files in BUILDDIR/run/
#   scripts/run.sh BUILDDIR tutorials      the tutorial programs' C twins
set -euo pipefail
cd "$(dirname "$0")/.."
b=${1:-build}
what=${2:-crawl}

if [[ $what == tutorials ]]; then
    for ex in countasync countsync rand "chained 9 6 3" coro "asyncq -p 2 -c 5" mygen; do
        set -- $ex
        if [[ -x "$b/examples/$1" ]]; then
            echo "== $ex"
            "$b/examples/$@"
        fi
    done
    exit 0
fi

docs=$(readlink -f /usr/share/doc/python3/html || true)
[[ -d $docs ]] || { echo "run: no $docs (Debian's python3-doc): run 'make deps'" >&2; exit 1; }

if [[ $what == crawl ]]; then
    out=crawl
    tmp=$(mktemp -d)
    trap 'tests/http/nginx.sh stop "$tmp/ng" >/dev/null 2>&1; rm -rf "$tmp"' EXIT
    ln -s "$docs" "$tmp/root"
    NGINX_GZIP=off tests/http/nginx.sh start "$tmp/ng" "$tmp/root" >/dev/null
    # shellcheck disable=SC1091
    source "$tmp/ng/env"
    rm -rf "$out"
    echo "== simul-crawl: Python's documentation from nginx on $NGINX_URL, crawled from its index page"
    echo "== $b/tools/simul-crawl -o $out -c 32 --per-host 16 $NGINX_URL/index.html"
    set +e
    "$b/tools/simul-crawl" -o "$out" -c 32 --per-host 16 "$NGINX_URL/index.html"
    rc=$?
    set -e
    echo
    echo "== exit status $rc (1: finished, some pages had errors - the documentation links a missing page)"
    for f in foundurls.tsv pages.jsonl graph.tsv; do
        echo "== $out/$f: $(wc -l <"$out/$f") lines; the first ones:"
        head -n 3 "$out/$f"
    done
    echo "== $out/summary.json:"
    cat "$out/summary.json"
    [[ $rc -le 1 ]] && exit 0
    exit $rc
fi
out=$b/run
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'tests/http/nginx.sh stop "$tmp/ng" >/dev/null 2>&1; rm -rf "$tmp"' EXIT
ln -s "$docs" "$tmp/root"
tests/http/nginx.sh start "$tmp/ng" "$tmp/root" >/dev/null
# shellcheck disable=SC1091
source "$tmp/ng/env"
scripts/corpus.sh pages | sed "s|^|$NGINX_URL/|" >"$out/urls.txt"
echo "$NGINX_URL/this-url-will-404.html" >>"$out/urls.txt"
n=$(wc -l <"$out/urls.txt")

echo "== areq: $n URLs (Python's documentation from nginx on $NGINX_URL, and one 404)"
echo "== $b/examples/areq $out/urls.txt $out/foundurls.txt"
start=$(date +%s.%N)
set +e
"$b/examples/areq" "$out/urls.txt" "$out/foundurls.txt" 2> >(tee "$out/areq.log" >&2)
rc=$?
set -e
wait
end=$(date +%s.%N)
pages=$(grep -c 'INFO:areq: Got response' "$out/areq.log" || true)
errors=$(grep -c 'ERROR:areq:' "$out/areq.log" || true)
links=$(($(wc -l <"$out/foundurls.txt") - 1))
echo
printf '== %d pages fetched, %d errors, %d links written in %.2f s (exit %d)\n' \
    "$pages" "$errors" "$links" "$(awk "BEGIN { print $end - $start }")" "$rc"
echo "== the first lines of $out/foundurls.txt:"
head -n 10 "$out/foundurls.txt"
exit $rc
