#!/usr/bin/env bash
# crawl_core.sh BUILD - simul-crawl end to end (BUILD/tools/simul-crawl)
# over Python's documentation served by the private nginx
# (tests/http/nginx.sh), on each backend:
#   - every page reachable from index.html is fetched exactly once (the
#     truth: a breadth-first walk of the files with Python's html.parser);
#   - graph.tsv loads with networkx.read_edgelist(..., DiGraph) and has an
#     edge for every foundurls.tsv line whose link was fetched;
#   - depth is the shortest click distance at any -c: every record's depth
#     equals a BFS over graph.tsv from the seed, and a crawl at --depth 3
#     -c 50 records exactly the pages that BFS puts within 3 clicks, each
#     at its BFS depth;
#   - kill -9 at many moments, each time running the same command again:
#     the final outputs equal an uninterrupted run's (sorted foundurls.tsv
#     and graph.tsv; pages.jsonl by URL without fetch_ms - and without
#     parent, one of the shortest paths' depending on completion order,
#     except at -c 1);
#   - SIGINT exits 130 and the next run finishes the job; a finished job
#     run again says so and exits with the same status;
#   - a write that fails (a file size limit, as a full disk) exits 3 with
#     the reason, and the next run finishes with the same outputs;
#   - --depth, --max-pages, --include/--exclude, --scope prefix;
#   - robots.txt and sitemaps on a small site of its own; usage errors exit 2.
# Prints "ok NAME" / "FAIL NAME: why"; exit 1 if any failed.
# shellcheck source=tests/crawl/lib.sh
source "$(dirname "$0")/lib.sh"
need_crawler fail
docs_site
docs_truth "$tmp/truth.txt"

# Runs the crawl in DIR, killing it with kill -9 after a random 0.01-0.19 s
# until a run ends by itself (the 12th is left alone); prints that run's
# exit status and the number of runs. Commits every 30 ms, so the kills
# fall at every stage: between commits, during one, before the first.
crawl_killed() { # dir extra-args...
    local dir=$1 rc=137 i=0 pid
    shift
    while [[ $rc -eq 137 ]] && ((i < 12)); do
        "$bin" -q -o "$dir" --commit-interval 0.03 "$@" "$seed" &
        pid=$!
        sleep "0.$((RANDOM % 2))$((RANDOM % 9 + 1))"
        ((i < 11)) && kill -9 "$pid" 2>/dev/null
        wait "$pid"
        rc=$?
        i=$((i + 1))
    done
    echo "$rc $i"
}

for be in ${SIMUL_TEST_BACKENDS:-epoll io_uring}; do
    export SIMUL_BACKEND=$be
    ref=$tmp/ref-$be
    "$bin" -q -o "$ref" -c 16 --per-host 16 "$seed"
    rc=$?
    # the documentation links one missing page (a 404): exit 1
    if [[ $rc -eq 1 ]] && grep -q '"status":404' "$ref/pages.jsonl"; then
        ok "$be-exit-1-with-404"
    else
        fail "$be-exit-1-with-404" "exit $rc"
    fi
    if out=$($PY - "$ref" "$tmp/truth.txt" <<'EOF'
import json, sys, collections
d, truth = sys.argv[1], set(open(sys.argv[2]).read().split())
recs = [json.loads(l) for l in open(f'{d}/pages.jsonl')]
n = collections.Counter(r['url'] for r in recs)
dup = [u for u, c in n.items() if c > 1]
html = {r['url'] for r in recs if r['status'] == 200 and (r['content_type'] or '').startswith('text/html')}
missing, extra = truth - html, html - truth
print(f'{len(truth)} reachable, {len(html)} HTML pages fetched, {len(dup)} twice, '
      f'{len(missing)} missing {sorted(missing)[:3]}, {len(extra)} extra {sorted(extra)[:3]}')
sys.exit(1 if dup or missing or extra or len(truth) < 500 else 0)
EOF
    ); then ok "$be-every-page-once ($out)"; else fail "$be-every-page-once" "$out"; fi
    if out=$($PY - "$ref" <<'EOF'
import sys, networkx as nx
d = sys.argv[1]
g = nx.read_edgelist(f'{d}/graph.tsv', delimiter='\t', create_using=nx.DiGraph)
lines = sum(1 for _ in open(f'{d}/graph.tsv'))
ok = g.number_of_edges() == lines and g.number_of_nodes() > 500 and lines > 5000
print(f'{g.number_of_nodes()} nodes, {g.number_of_edges()} edges, {lines} lines')
sys.exit(0 if ok else 1)
EOF
    ); then ok "$be-graph-networkx ($out)"; else fail "$be-graph-networkx" "$out"; fi

    # depth: the shortest click distance, whatever the completion order
    "$bin" -q -o "$tmp/d3-$be" -c 50 --per-host 50 --depth 3 "$seed"
    if out=$($PY - "$ref" "$tmp/d3-$be" "$seed" <<'EOF'
import json, sys, collections
ref, d3, seed = sys.argv[1:]
g = collections.defaultdict(list)
for l in open(f'{ref}/graph.tsv'):
    a, b = l.rstrip('\n').split('\t')
    g[a].append(b)
dist, q = {seed: 0}, collections.deque([seed])
while q:
    u = q.popleft()
    for v in g[u]:
        if v not in dist:
            dist[v] = dist[u] + 1
            q.append(v)
recs = {r['url']: r for r in map(json.loads, open(f'{ref}/pages.jsonl'))}
off = sorted(u for u, r in recs.items() if r['status'] and r['depth'] != dist.get(u))
got = {r['url']: r['depth'] for r in map(json.loads, open(f'{d3}/pages.jsonl'))}
want = {u: d for u, d in dist.items() if d <= 3}
bad = sorted(set(got.items()) ^ set(want.items()))
print(f'{len(recs)} records, {len(off)} at another depth than the BFS {off[:3]}; --depth 3: '
      f'{len(got)} records, {len(want)} within 3 clicks, {len(bad)} differ {bad[:4]}')
sys.exit(1 if off or bad or len(want) < 100 else 0)
EOF
    ); then ok "$be-depth-is-bfs ($out)"; else fail "$be-depth-is-bfs" "$out"; fi

    # resume after kill -9, concurrent
    canon "$ref" fetch_ms,parent >"$tmp/ref.canon"
    read -r rc runs < <(crawl_killed "$tmp/k-$be" -c 4 --per-host 4)
    canon "$tmp/k-$be" fetch_ms,parent >"$tmp/k.canon"
    if [[ $rc -eq 1 && $runs -ge 2 ]] && cmp -s "$tmp/ref.canon" "$tmp/k.canon"; then
        ok "$be-resume-kill9 ($runs runs)"
    else
        fail "$be-resume-kill9" "exit $rc after $runs runs; $(diff "$tmp/ref.canon" "$tmp/k.canon" | head -c 600)"
    fi
    # -c 1: the order is fixed, so depth and parent must match too
    "$bin" -q -o "$tmp/ref1-$be" -c 1 "$seed"
    canon "$tmp/ref1-$be" fetch_ms >"$tmp/ref1.canon"
    read -r rc runs < <(crawl_killed "$tmp/k1-$be" -c 1)
    canon "$tmp/k1-$be" fetch_ms >"$tmp/k1.canon"
    if [[ $rc -eq 1 && $runs -ge 2 ]] && cmp -s "$tmp/ref1.canon" "$tmp/k1.canon"; then
        ok "$be-resume-kill9-c1 ($runs runs)"
    else
        fail "$be-resume-kill9-c1" "exit $rc after $runs runs; $(diff "$tmp/ref1.canon" "$tmp/k1.canon" | head -c 600)"
    fi

    # SIGINT: exit 130, state saved; the next run completes the job (a
    # 2 ms delay between requests makes the crawl last over a second)
    "$bin" -q -o "$tmp/int-$be" --delay 0.002 "$seed" &
    pid=$!
    sleep 0.3
    kill -INT "$pid"
    wait "$pid"
    rc=$?
    "$bin" -q -o "$tmp/int-$be" --delay 0.002 "$seed"
    rc2=$?
    canon "$tmp/int-$be" fetch_ms,parent >"$tmp/int.canon"
    if [[ $rc -eq 130 && $rc2 -eq 1 ]] && cmp -s "$tmp/ref.canon" "$tmp/int.canon"; then
        ok "$be-sigint-130-then-resume"
    else
        fail "$be-sigint-130-then-resume" "exits $rc, $rc2; $(diff "$tmp/ref.canon" "$tmp/int.canon" | head -c 400)"
    fi
    # a finished job: said, same status, nothing fetched again
    before=$(stat -c %s "$ref/pages.jsonl")
    msg=$("$bin" -o "$ref" -c 16 --per-host 16 "$seed" 2>&1)
    rc=$?
    if [[ $rc -eq 1 && $msg == *"already finished"* && $(stat -c %s "$ref/pages.jsonl") == "$before" ]]; then
        ok "$be-finished-job-again"
    else
        fail "$be-finished-job-again" "exit $rc: $msg"
    fi
done

# A write that fails mid-crawl (ulimit -f: EFBIG, as a full disk gives
# ENOSPC): exit 3 with the reason, and nothing lost - the same command
# without the limit finishes with the uninterrupted run's outputs.
(ulimit -f 1024; trap '' XFSZ; exec "$bin" -q -o "$tmp/full" -c 4 --per-host 4 "$seed") \
    2>"$tmp/full.err"
rc=$?
"$bin" -q -o "$tmp/full" -c 4 --per-host 4 "$seed"
rc2=$?
canon "$tmp/full" fetch_ms,parent >"$tmp/full.canon"
# (the outputs outgrow the limit first; the message names them and errno,
# never SQLite's "not an error")
if [[ $rc -eq 3 && $rc2 -eq 1 ]] && grep -q "error: .*File too large" "$tmp/full.err" &&
   ! grep -q "not an error" "$tmp/full.err" && cmp -s "$tmp/ref.canon" "$tmp/full.canon"; then
    ok "write-fails-exit-3-then-resume"
else
    fail write-fails-exit-3-then-resume "exits $rc, $rc2: $(tail -n 2 "$tmp/full.err")"
fi

# Limits and filters on the documentation: each run's pages.jsonl checked.
limit_case() { # name python-condition-on-recs args...
    local name=$1 cond=$2 dir=$tmp/lim-$1
    shift 2
    "$bin" -q -o "$dir" -c 8 --per-host 8 "$@"
    if out=$($PY - "$dir" "$NGINX_URL" "$cond" <<'EOF'
import json, sys
d, U, cond = sys.argv[1], sys.argv[2], sys.argv[3]
recs = [json.loads(l) for l in open(f'{d}/pages.jsonl')]
urls = [r['url'] for r in recs]
ok = len(set(urls)) == len(urls) and eval(cond)
print(f'{len(recs)} URLs'); sys.exit(0 if ok else 1)
EOF
    ); then ok "limit-$name ($out)"; else fail "limit-$name" "$out"; fi
}
limit_case depth-1 "max(r['depth'] for r in recs) == 1 and len(recs) > 20" --depth 1 "$seed"
limit_case depth-0 "urls == [U + '/index.html']" --depth 0 "$seed"
limit_case max-pages "len(recs) == 50" --max-pages 50 "$seed"
limit_case include "all('/library/' in u for u in urls[1:]) and len(recs) > 100" \
    --include '/library/' "$seed"
limit_case exclude "not any(u.endswith('.css') or '/c-api/' in u for u in urls) and len(recs) > 300" \
    --exclude '\.css$' --exclude '/c-api/' "$seed"
limit_case scope-prefix "all(u.startswith(U + '/tutorial/') for u in urls) and len(recs) > 10" \
    --scope prefix "$NGINX_URL/tutorial/index.html"

# robots.txt (Disallow, Crawl-delay, Sitemap:) and a gzip'd sitemap index
# leading to a page nothing links: the disallowed page is recorded, never
# fetched; the orphan is found through the sitemaps; a redirect is a
# record of its own (its status, final_url its Location, one link: an
# edge of foundurls.tsv and graph.tsv) and its target a URL of its own,
# at the same depth (a loop ends when the target is seen: no error; a
# target robots.txt disallows is recorded as such, never requested);
# mailto: and another host are recorded in foundurls.tsv only.
small_site sitemaps
"$bin" -q -o "$tmp/site-out" "$U/index.html"
rc=$?
if out=$($PY - "$tmp/site-out" "$U" <<'EOF'
import json, sys
d, U = sys.argv[1], sys.argv[2]
r = {j['url'][len(U):]: j for j in map(json.loads, open(f'{d}/pages.jsonl'))}
found = open(f'{d}/foundurls.tsv').read()
want = {'/index.html', '/a.html', '/private/x.html', '/sitemap.xml.gz', '/sm2.xml', '/orphan.html',
        '/redir', '/redir-loop', '/redir-a', '/redir-b'}
st = lambda u: (r[u]['status'], r[u]['final_url'], r[u]['error'], r[u]['depth'], r[u]['parent'], r[u]['links'])
bad = []
if set(r) != want: bad.append(f'urls {sorted(r)}')
elif r['/private/x.html']['error'] != 'robots' or r['/private/x.html']['status'] != 0: bad.append('robots')
elif r['/orphan.html']['parent'] != U + '/sm2.xml' or r['/orphan.html']['status'] != 200: bad.append('sitemap')
elif st('/redir') != (301, U + '/index.html', None, 1, U + '/index.html', 1): bad.append(f"redirect {st('/redir')}")
elif st('/redir-loop') != (302, U + '/redir-loop', None, 1, U + '/index.html', 1): bad.append('redirect loop')
elif st('/redir-a') != (302, U + '/redir-b', None, 1, U + '/index.html', 1): bad.append('two-step loop')
elif st('/redir-b') != (0, None, 'robots', 1, U + '/redir-a', 0):
    bad.append(f"a redirect target robots.txt disallows {st('/redir-b')}")
if f'{U}/index.html\tmailto:me@x\n' not in found or 'http://other.example/\n' not in found: bad.append('foundurls')
graph = open(f'{d}/graph.tsv').read()
if 'private' in graph or 'redir-b' in graph: bad.append('graph has a disallowed page')
if f'{U}/redir\t{U}/index.html\n' not in found or f'{U}/redir\t{U}/index.html\n' not in graph:
    bad.append('the redirect is no edge')
print(' '.join(bad)); sys.exit(1 if bad else 0)
EOF
); [[ $rc -eq 0 ]]; then   # a redirect loop is no error
    ok robots-sitemaps-schemes
else
    fail robots-sitemaps-schemes "exit $rc: $out"
fi
small_site_stop

# usage errors: exit 2
for args in "--bogus $seed" "" "-c 0 $seed" "--scope planet $seed" "--include ( $seed"; do
    # shellcheck disable=SC2086
    "$bin" -o "$tmp/usage" $args >/dev/null 2>&1
    rc=$?
    [[ $rc -eq 2 ]] && ok "usage-exit-2 '$args'" || fail "usage-exit-2 '$args'" "exit $rc"
done
"$bin" --help | grep -q -- '--per-host' && ok help || fail help "no option list"
"$bin" --version | grep -q '^simul-crawl ' && ok version || fail version "no version"
exit $st
