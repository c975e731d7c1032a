#!/usr/bin/env bash
# areq.sh BUILDDIR - examples/areq beside the walkthrough's own areq.py.
# Both run over one local corpus served by a private nginx on a free
# loopback port (tests/http/nginx.sh), with one urls.txt: pages with links
# (relative, absolute, duplicates, an href across a newline, an uppercase
# HREF the regex must not see), a 404, a redirect, a plain-text page, a
# Latin-1 page, a page with no links, an unreachable port, a blank line.
# The real areq.py (extracted from the walkthrough, run by Debian's python3
# with python3-aiohttp and python3-aiofiles) and build/examples/areq must
# write the same foundurls.txt (as a set of lines, header first) and log the
# same areq lines (timestamps and order aside). Then areq alone on the
# Python documentation (530 pages + a 404) against the same check.
# Prints "ok NAME" / "FAIL NAME: why"; exits 1 if anything failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
b=${1:-build}
PY=/usr/bin/python3
st=0
ok()   { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; st=1; }

walk=${SIMUL_SHARED:-../shared}/walkthrough/async-io-in-python.txt
if [[ ! -f $walk ]]; then
    echo "ok areq.skipped (no $walk: the walkthrough's areq.py is needed)"
    exit 0
fi
[[ -x $b/examples/areq ]] || { fail areq.built "no $b/examples/areq"; exit 1; }

tmp=$(mktemp -d)
trap 'tests/http/nginx.sh stop "$tmp/ng" >/dev/null 2>&1; rm -rf "$tmp"' EXIT

# The corpus.
r=$tmp/root
mkdir -p "$r/b" "$r/py"
cat >"$r/index.html" <<'EOF'
<html><head><link href="style.css" rel="stylesheet"></head><body>
<a href="a.html">a</a> <a href="/b/c.html">c</a> <a href="b/">b dir</a>
<a href="x
y">an href across a newline is no match</a> <A HREF="upper.html">upper case is not seen</A>
<a href="http://other.example/x?q=1#frag">absolute</a> <a href="a.html">duplicate</a>
<a href="../../up.html">dots</a> <a href="?q=2">query</a> <a href="#top">fragment</a>
<a href="">empty</a> <a href="mailto:someone@example.com">mail</a>
<a href='single.html'>single quotes are not seen</a> <a href="sp ace.html">space</a>
<!-- <a href="in-comment.html"> the regex sees comments too --></body></html>
EOF
cat >"$r/b/c.html" <<'EOF'
<p><a href="../a.html">up</a><a href="d.html">d</a><a href="//other.example/proto">proto</a></p>
EOF
# Latin-1 bytes (é = E9) announced in a <meta>: areq.py's aiohttp guesses the
# charset (charset_normalizer), simul reads the <meta>; both decode é.
printf '<html><head><meta charset="iso-8859-1"><title>Caf\xe9</title></head><body>\n<p>Le caf\xe9 est tr\xe8s bon, la cr\xe8me br\xfbl\xe9e aussi, \xe0 bient\xf4t.</p>\n<a href="caf\xe9.html">caf\xe9</a> <a href="men\xfa.html">men\xfa</a></body></html>\n' >"$r/latin1.html"
printf 'plain text, yet href="plain-link.txt" is found as areq.py finds it\n' >"$r/plain.txt"
printf '<html><body><p>no links here</p></body></html>\n' >"$r/nolinks.html"

tests/http/nginx.sh start "$tmp/ng" "$r" >/dev/null || { fail areq.nginx "nginx did not start"; exit 1; }
# shellcheck disable=SC1091
source "$tmp/ng/env"
u=$NGINX_URL
# A port nothing listens on: the kernel hands it out, then it is closed.
dead=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf '%s\n' "$u/index.html" "$u/b/c.html" "$u/latin1.html" "$u/plain.txt" "$u/nolinks.html" \
    "$u/missing.html" "$u/redir" "http://127.0.0.1:$dead/" "$u/index.html" "  $u/b/c.html  " "" \
    >"$tmp/urls.txt"

# The walkthrough's areq.py, verbatim: from its "# areq.py" line to the
# prose after it. It reads urls.txt and writes foundurls.txt beside itself.
$PY - "$walk" "$r/py/areq.py" <<'EOF'
import sys
t = open(sys.argv[1], encoding="utf-8").read()
i = t.index("#!/usr/bin/env python3\n# areq.py")
j = t.index("\nThis script is longer than", i)
open(sys.argv[2], "w").write(t[i:j])
EOF
cp "$tmp/urls.txt" "$r/py/urls.txt"
(cd "$r/py" && timeout 60 $PY areq.py 2>"$tmp/py.log")
pyst=$?
[[ $pyst -eq 0 ]] || fail areq.py.ran "areq.py exited $pyst: $(tail -n 3 "$tmp/py.log")"

# areq on each backend, against areq.py's run.
for be in ${SIMUL_TEST_BACKENDS:-epoll io_uring}; do
    mkdir -p "$r/c-$be"
    export SIMUL_BACKEND=$be
    (cd "$r/c-$be" && timeout 60 "$OLDPWD/$b/examples/areq" "$tmp/urls.txt" foundurls.txt 2>"$tmp/c-$be.log")
    cst=$?
    [[ $cst -eq 0 ]] && ok areq.$be.exit || fail areq.$be.exit "exit $cst: $(tail -n 3 "$tmp/c-$be.log")"

    # The output: the header first, then the same lines as a set.
    if [[ "$(head -n 1 "$r/c-$be/foundurls.txt")" == $'source_url\tparsed_url' ]]; then
        ok areq.$be.header
    else
        fail areq.$be.header "first line: $(head -n 1 "$r/c-$be/foundurls.txt")"
    fi
    if diff <(tail -n +2 "$r/py/foundurls.txt" | sort) <(tail -n +2 "$r/c-$be/foundurls.txt" | sort) \
            >"$tmp/out.diff"; then
        ok areq.$be.same_output
    else
        fail areq.$be.same_output "foundurls.txt differs (< areq.py, > areq): $(head -n 8 "$tmp/out.diff" | tr '\n' ' ')"
    fi
    # No line twice (each page's links are a set; each page written once).
    dups=$(tail -n +2 "$r/c-$be/foundurls.txt" | sort | uniq -d | head -n 3)
    [[ -z $dups ]] && ok areq.$be.no_duplicates || fail areq.$be.no_duplicates "$dups"

    # The log: the same areq lines, timestamps and order aside.
    areq_lines() { grep -E '^[0-9]{2}:[0-9]{2}:[0-9]{2} [A-Z]+:areq: ' "$1" | cut -d' ' -f2- | sort; }
    if diff <(areq_lines "$tmp/py.log") <(areq_lines "$tmp/c-$be.log") >"$tmp/log.diff"; then
        ok areq.$be.same_log
    else
        fail areq.$be.same_log "log lines differ (< areq.py, > areq): $(head -n 8 "$tmp/log.diff" | tr '\n' ' ')"
    fi
    # What the corpus was made to show, checked on areq's side by name.
    has() { grep -qF -- "$2" "$1"; }
    has "$tmp/c-$be.log" "ERROR:areq: aiohttp exception for $u/missing.html [404]: Not Found" &&
        ok areq.$be.404 || fail areq.$be.404 "no ERROR line for the 404"
    has "$tmp/c-$be.log" "ERROR:areq: aiohttp exception for http://127.0.0.1:$dead/ [None]: None" &&
        ok areq.$be.unreachable || fail areq.$be.unreachable "no ERROR line for the dead port"
    has "$r/c-$be/foundurls.txt" "$u/redir	$u/a.html" &&
        ok areq.$be.redirect_base || fail areq.$be.redirect_base "links of /redir not resolved against /redir"
    has "$r/c-$be/foundurls.txt" "$u/latin1.html	$u/café.html" &&
        ok areq.$be.latin1 || fail areq.$be.latin1 "café.html not decoded from Latin-1"
    ! has "$r/c-$be/foundurls.txt" "upper.html" && ! grep -qE $'\t'"$u/(x|y)\$" "$r/c-$be/foundurls.txt" &&
        ok areq.$be.regex || fail areq.$be.regex "a match the regex would not make"
    ! grep -q "^$u/nolinks.html" "$r/c-$be/foundurls.txt" && has "$tmp/c-$be.log" "Found 0 links for $u/nolinks.html" &&
        ok areq.$be.nolinks || fail areq.$be.nolinks "the page without links"
done

# areq alone on the Python documentation: every page fetched, no errors but
# the 404, and links found as the same regex + urljoin find them offline.
docs=$(readlink -f /usr/share/doc/python3/html)
if [[ -d $docs ]]; then
    ln -s "$docs" "$r/docs"
    scripts/corpus.sh pages | sed "s|^|$u/docs/|" >"$tmp/docs.txt"
    echo "$u/docs/this-url-will-404.html" >>"$tmp/docs.txt"
    n=$(($(wc -l <"$tmp/docs.txt") - 1))
    (cd "$r/c-$be" && timeout 120 "$OLDPWD/$b/examples/areq" -c 50 "$tmp/docs.txt" docs.tsv 2>"$tmp/docs.log")
    got=$(grep -c 'INFO:areq: Got response \[200\]' "$tmp/docs.log")
    errs=$(grep -c 'ERROR:areq:' "$tmp/docs.log")
    [[ $got -eq $n && $errs -eq 1 ]] && ok areq.docs_pages ||
        fail areq.docs_pages "$got of $n pages fetched, $errs ERROR lines"
    # The expected links, computed from the files with areq.py's own regex,
    # decoding and urljoin.
    $PY - "$docs" "$u/docs" >"$tmp/docs.expect" <<'EOF'
import os, re, sys, urllib.parse
root, base = sys.argv[1], sys.argv[2]
HREF_RE = re.compile(r'href="(.*?)"')
for dp, dn, fn in os.walk(root, followlinks=True):
    for f in fn:
        if not f.endswith(".html"):
            continue
        p = os.path.join(dp, f)
        url = base + "/" + os.path.relpath(p, root)
        html = open(p, "rb").read().decode("utf-8", "replace")
        for link in set(urllib.parse.urljoin(url, l) for l in HREF_RE.findall(html)):
            print(f"{url}\t{link}")
EOF
    if diff <(sort "$tmp/docs.expect") <(tail -n +2 "$r/c-$be/docs.tsv" | sort) >"$tmp/docs.diff"; then
        ok areq.docs_links
    else
        fail areq.docs_links "$(wc -l <"$tmp/docs.diff") diff lines: $(head -n 4 "$tmp/docs.diff" | tr '\n' ' ')"
    fi
fi
exit $st
