# lib.sh - what the crawler's test scripts (tests/crawl/*.sh) share; each
# sources it first thing:
#   PREFIX=badsite.   # optional: put before every case name
#   source "$(dirname "$0")/lib.sh"
# It moves to the repository's root and sets: b (the build directory, the
# script's first argument, default build), bin (b's simul-crawl), PY
# (Debian's python3, with html5lib and networkx), st (the exit status), tmp
# (a temporary directory removed at exit with all that was started in it).
#   ok NAME / fail NAME WHY     print "ok NAME" / "FAIL NAME: WHY" (st=1)
#   at_exit CMD                 run CMD at exit (before tmp is removed)
#   need_crawler skip|fail      no $bin: "ok skipped" and exit 0, or a failure
#   docs_site                   nginx over Python's documentation (the
#                               corpus) in $tmp/ng: NGINX_* and seed set
#   docs_truth FILE             the corpus's pages reachable from the seed
#   gen_site [ARGS...]          tests/crawl/site.sh's generated site in
#                               $tmp/s (ARGS: site.sh's): SITE_* set
#   small_site [sitemaps]       a small site of robots.txt rules, redirects
#                               and other schemes in $tmp/site, served by a
#                               second nginx ($tmp/ng2): U is its URL
#   small_site_stop             stops that nginx
#   canon DIR MASK              DIR's outputs comparable between runs:
#                               sorted lines, pages.jsonl by URL without
#                               the fields MASK names (comma-separated)
# shellcheck shell=bash disable=SC2016  # at_exit commands expand at exit
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
b=${1:-build}
bin=$b/tools/simul-crawl
PY=/usr/bin/python3    # Debian's, with python3-networkx (not a pyenv one)
# shellcheck source=tests/proc.sh
source tests/proc.sh   # alive, wait_gone
PREFIX=${PREFIX:-}
st=0
ok()   { echo "ok $PREFIX$1"; }
fail() { echo "FAIL $PREFIX$1: $2"; st=1; }

tmp=$(mktemp -d)
exit_cmds=()
at_exit() { exit_cmds+=("$1"); }
# Last in, first out; then what the scripts left running in the
# background, then the directory.
lib_cleanup() {
    local i
    for ((i = ${#exit_cmds[@]} - 1; i >= 0; i--)); do eval "${exit_cmds[i]}"; done
    rm -rf "$tmp"
}
trap lib_cleanup EXIT

need_crawler() { # skip|fail
    [[ -x $bin ]] && return 0
    if [[ $1 == skip ]]; then ok "skipped (no $bin)"; exit 0; fi
    fail build "no $bin"
    exit 1
}

docs_site() {
    local docs
    docs=$(readlink -f /usr/share/doc/python3/html)
    [[ -f $docs/index.html ]] || { fail corpus "no $docs (python3-doc)"; exit 1; }
    ln -s "$docs" "$tmp/root"
    at_exit 'tests/http/nginx.sh stop "$tmp/ng" >/dev/null 2>&1'
    NGINX_GZIP=off tests/http/nginx.sh start "$tmp/ng" "$tmp/root" >/dev/null ||
        { fail nginx "did not start"; exit 1; }
    # shellcheck disable=SC1091
    source "$tmp/ng/env"
    # shellcheck disable=SC2034  # for the scripts
    seed=$NGINX_URL/index.html
}

# The truth of the documentation crawl: the pages reachable from
# index.html through the links the crawler follows (a/area/link href,
# frame/iframe src), as files under the root - a walk with Python's
# html.parser, independent of the crawler's extractor. It takes seconds of
# CPU, so it is kept per corpus (names, sizes and times of its files) and
# per version of this function in ${TMPDIR:-/tmp} (written aside, then
# renamed: concurrent runs never read half of one), its URLs relative to
# a placeholder origin.
docs_truth() { # out
    local key cache
    key=$({ declare -f docs_truth; find -L "$tmp/root/" -type f -printf '%P %s %T@\n' | sort; } |
          sha256sum | cut -c1-16)
    cache=${TMPDIR:-/tmp}/simul-crawl-truth-$(id -u)-$key
    if [[ ! -s $cache ]]; then
        $PY - "$tmp/root" http://truth.invalid >"$cache.$$" <<'EOF' && mv -f "$cache.$$" "$cache"
import os, sys
from html.parser import HTMLParser
from urllib.parse import urljoin, urldefrag, urlsplit
root, base = sys.argv[1], sys.argv[2]
class P(HTMLParser):
    def __init__(self):
        super().__init__(); self.links = []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ('a', 'area', 'link') and a.get('href'): self.links.append(a['href'])
        if tag in ('frame', 'iframe') and a.get('src'): self.links.append(a['src'])
seen, todo = set(), [base + '/index.html']
while todo:
    u = todo.pop()
    if u in seen: continue
    seen.add(u)
    path = urlsplit(u).path
    f = os.path.join(root, path.lstrip('/'))
    if not f.endswith('.html') or not os.path.isfile(f): continue
    p = P(); p.feed(open(f, encoding='utf-8', errors='replace').read())
    for l in p.links:
        v = urldefrag(urljoin(u, l.strip()))[0]
        if v.startswith(base + '/') and v not in seen: todo.append(v)
for u in sorted(seen):
    f = os.path.join(root, urlsplit(u).path.lstrip('/'))
    if f.endswith('.html') and os.path.isfile(f): print(u)
EOF
        rm -f "$cache.$$"
    fi
    sed "s|^http://truth.invalid/|$NGINX_URL/|" "$cache" >"$1"
}

gen_site() { # site.sh start's options
    at_exit 'tests/crawl/site.sh stop "$tmp/s" >/dev/null 2>&1'
    tests/crawl/site.sh start "$tmp/s" "$b" "$@" >/dev/null ||
        { fail start "site.sh start failed"; exit 1; }
    # shellcheck disable=SC1091
    source "$tmp/s/env"
}

# robots.txt: /private/ and /redir-b disallowed, a Crawl-delay; index.html
# links a page (with a fragment), a disallowed page, mailto:, another host
# and nginx.sh's redirects: /redir -> /index.html, /redir-loop -> itself,
# /redir-a -> /redir-b (disallowed here) -> /redir-a. With `sitemaps`,
# robots.txt names a gzip'd sitemap index leading to a sitemap that lists
# a page nothing links (orphan.html) and a.html.
small_site() { # [sitemaps]
    local site=$tmp/site
    mkdir -p "$site/private"
    at_exit 'small_site_stop'
    tests/http/nginx.sh start "$tmp/ng2" "$site" >/dev/null || fail nginx2 "did not start"
    # shellcheck disable=SC1091
    U=$(source "$tmp/ng2/env" && echo "$NGINX_URL")
    printf 'User-agent: *\nDisallow: /private/\nDisallow: /redir-b\nCrawl-delay: 0.01\n' >"$site/robots.txt"
    echo '<a href="a.html#x">a</a><a href="private/x.html">p</a><a href="mailto:me@x">m</a><a href="http://other.example/">o</a>' >"$site/index.html"
    echo '<a href="/redir">r</a><a href="/redir-loop">l</a><a href="/redir-a">a</a>' >>"$site/index.html"
    echo '<a href="index.html">i</a>' >"$site/a.html"
    echo secret >"$site/private/x.html"
    [[ ${1:-} == sitemaps ]] || return 0
    printf 'Sitemap: %s/sitemap.xml.gz\n' "$U" >>"$site/robots.txt"
    echo '<p>orphan</p>' >"$site/orphan.html"
    printf '<sitemapindex><sitemap><loc>%s/sm2.xml</loc></sitemap></sitemapindex>' "$U" | gzip >"$site/sitemap.xml.gz"
    printf '<urlset><url><loc>%s/orphan.html</loc></url><url><loc>%s/a.html</loc></url></urlset>' "$U" "$U" >"$site/sm2.xml"
}
small_site_stop() { tests/http/nginx.sh stop "$tmp/ng2" >/dev/null 2>&1; }

canon() { # dir mask
    $PY - "$1" "$2" <<'EOF'
import json, sys
d, mask = sys.argv[1], sys.argv[2].split(',')
for name in ('foundurls.tsv', 'graph.tsv'):
    lines = open(f'{d}/{name}', encoding='utf-8', errors='surrogateescape').read().splitlines()
    print(name, len(lines)); print('\n'.join(sorted(lines)))
recs = [json.loads(l) for l in open(f'{d}/pages.jsonl')]
for r in recs:
    for k in mask: r.pop(k, None)
print('pages.jsonl', len(recs))
for r in sorted(recs, key=lambda r: r['url']): print(json.dumps(r, sort_keys=True))
EOF
}
