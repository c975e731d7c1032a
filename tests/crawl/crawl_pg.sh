#!/usr/bin/env bash
# crawl_pg.sh BUILD - simul-crawl --pg end to end: a throwaway PostgreSQL 15
# (tests/pg/pgserver.sh) and the private nginx over Python's documentation
# (tests/http/nginx.sh), on each backend:
#   - a crawl's tables equal its files: every pages.jsonl record is a row of
#     <schema>.pages (url, final_url, status, content_type, bytes, depth,
#     parent, fetch_ms, error, links, tries), every foundurls.tsv line a row
#     of <schema>.links, nothing more; the graph view equals graph.tsv;
#   - killed with kill -9 twice mid-crawl and run again: still equal (rows
#     are keyed, so nothing twice; a page fetched again replaces its row);
#   - the server stopped (pg_ctl stop -m fast) and started again mid-crawl:
#     the crawl pauses, reconnects, re-sends; still equal;
#   - the server gone for good: exit 3 with a message, state saved; run
#     again with the server back: finished and equal;
#   - a record patched when the crawl ends (a shorter path to a page found
#     after it was written: the generated site's short/ pages, at --depth
#     4) is patched in its row too: still equal, the page at its BFS depth;
#   - a conninfo that does not parse exits 2, an unreachable server 3, a
#     job begun without --pg refuses --pg (exit 2).
# Prints "ok NAME" / "FAIL NAME: why"; exit 1 if any failed.
# shellcheck source=tests/crawl/lib.sh
source "$(dirname "$0")/lib.sh"
PGBIN=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
need_crawler fail
chmod 755 "$tmp"
at_exit 'tests/pg/pgserver.sh stop "$tmp/pg" >/dev/null 2>&1'
port=$(tests/pg/pgserver.sh start "$tmp/pg") || { fail postgres "did not start"; exit 1; }
docs_site
conn="host=$tmp/pg port=$port user=postgres dbname=postgres"

q() { psql -h "$tmp/pg" -p "$port" -U postgres -d postgres -qAtX -F $'\t' -c "$1"; }
as_pg() {
    if [[ $(id -u) -eq 0 ]]; then setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"
    else "$@"; fi
}
pg_down() { as_pg "$PGBIN/pg_ctl" -D "$tmp/pg/data" -m fast -w stop >/dev/null 2>&1; }
pg_up()   { tests/pg/pgserver.sh restart "$tmp/pg"; }
# Waits until FILE has N lines (the crawl is that far, whatever the build's
# speed) or PID has ended.
wait_lines() { # file n pid
    local i
    for ((i = 0; i < 1000; i++)); do
        (($(cat "$1" 2>/dev/null | wc -l) >= $2)) && return 0
        kill -0 "$3" 2>/dev/null || return 1
        sleep 0.01
    done
}

# Tables of SCHEMA against the files of DIR: prints the counts; fails on
# any difference (a missing, extra or different row).
equal() { # dir schema
    local d=$1 s=$2
    $PY - "$d" >"$tmp/f.pages" <<'EOF'
import json, sys
def v(x):
    if x is None: return ''
    if isinstance(x, float): r = repr(x); return r[:-2] if r.endswith('.0') else r
    return str(x)
for l in open(f'{sys.argv[1]}/pages.jsonl', encoding='utf-8'):
    r = json.loads(l)
    print('\t'.join(v(r[k]) for k in ('url', 'final_url', 'status', 'content_type', 'bytes',
          'depth', 'parent', 'fetch_ms', 'error', 'links', 'tries')))
EOF
    LC_ALL=C sort -o "$tmp/f.pages" "$tmp/f.pages"
    q "SELECT url, final_url, status, content_type, bytes, depth, parent, fetch_ms, error,
              links, tries FROM $s.pages" | LC_ALL=C sort >"$tmp/d.pages"
    tail -n +2 "$d/foundurls.tsv" | LC_ALL=C sort >"$tmp/f.links"
    q "SELECT source, target FROM $s.links" | LC_ALL=C sort >"$tmp/d.links"
    LC_ALL=C sort "$d/graph.tsv" >"$tmp/f.graph"
    q "SELECT source, target FROM $s.graph" | LC_ALL=C sort >"$tmp/d.graph"
    echo "$(wc -l <"$tmp/d.pages") pages, $(wc -l <"$tmp/d.links") links, $(wc -l <"$tmp/d.graph") graph edges"
    cmp -s "$tmp/f.pages" "$tmp/d.pages" && cmp -s "$tmp/f.links" "$tmp/d.links" &&
        cmp -s "$tmp/f.graph" "$tmp/d.graph" && (($(wc -l <"$tmp/d.pages") >= ${MIN_PAGES:-500})) ||
        { diff "$tmp/f.pages" "$tmp/d.pages" | head -n 3; diff "$tmp/f.links" "$tmp/d.links" | head -n 3
          diff "$tmp/f.graph" "$tmp/d.graph" | head -n 3; return 1; }
}

for be in ${SIMUL_TEST_BACKENDS:-epoll io_uring}; do
    export SIMUL_BACKEND=$be
    s=ref_${be}
    "$bin" -q -o "$tmp/ref-$be" -c 16 --per-host 16 --pg "$conn" --pg-schema "$s" "$seed"
    rc=$?
    if out=$(equal "$tmp/ref-$be" "$s") && [[ $rc -eq 1 ]]; then
        ok "$be-tables-equal-files ($out)"
    else
        fail "$be-tables-equal-files" "exit $rc; $out"
    fi

    # kill -9 twice mid-crawl (commits every 30 ms; a 2 ms delay per
    # request makes the crawl last over a second), then to the end
    s=kill_${be}
    runs="" mid=1
    for n in 60 250; do
        "$bin" -q -o "$tmp/k-$be" --delay 0.002 --commit-interval 0.03 --pg "$conn" \
            --pg-schema "$s" "$seed" &
        pid=$!
        wait_lines "$tmp/k-$be/pages.jsonl" "$n" "$pid"
        kill -9 "$pid"
        wait "$pid"
        rc=$?
        l=$(wc -l <"$tmp/k-$be/pages.jsonl")
        runs="$runs $rc:$l"
        # killed, with some pages done and not all
        ((rc == 137 && l > 0 && l < $(wc -l <"$tmp/ref-$be/pages.jsonl"))) || mid=0
    done
    "$bin" -q -o "$tmp/k-$be" --delay 0.002 --commit-interval 0.03 --pg "$conn" \
        --pg-schema "$s" "$seed"
    rc=$?
    if out=$(equal "$tmp/k-$be" "$s") && [[ $rc -eq 1 && $mid -eq 1 ]]; then
        ok "$be-kill9-twice-resume (runs$runs; $out)"
    else
        fail "$be-kill9-twice-resume" "runs$runs, exit $rc; $out"
    fi

    # the server stopped and started again mid-crawl, with parts of the
    # batch sent in the open transaction (commits 1 s apart, the crawl
    # about 2 s): the crawl pauses, reconnects and re-sends the batch
    s=restart_${be}
    "$bin" -v -o "$tmp/r-$be" --delay 0.004 --commit-interval 1 --pg "$conn" \
        --pg-schema "$s" "$seed" 2>"$tmp/r.err" &
    pid=$!
    sleep 0.8
    pg_down
    sleep 1
    pg_up
    wait "$pid"
    rc=$?
    if out=$(equal "$tmp/r-$be" "$s") && [[ $rc -eq 1 ]] && grep -q reconnected "$tmp/r.err" &&
        grep -qE '\([1-9][0-9]* parts sent' "$tmp/r.err"; then
        ok "$be-server-restart ($out)"
    else
        fail "$be-server-restart" "exit $rc; $out; $(grep -i postgres "$tmp/r.err" | head -n 3)"
    fi
done

# The server gone for good: exit 3 after --pg-timeout, state saved; with
# the server back the same command finishes the job.
s=gone
"$bin" -o "$tmp/g" --delay 0.002 --commit-interval 0.05 --pg "$conn" --pg-schema "$s" \
    --pg-timeout 1 "$seed" 2>"$tmp/g.err" &
pid=$!
wait_lines "$tmp/g/pages.jsonl" 100 "$pid"
pg_down
wait "$pid"
rc=$?
pg_up
"$bin" -q -o "$tmp/g" --delay 0.002 --pg "$conn" --pg-schema "$s" "$seed"
rc2=$?
if out=$(equal "$tmp/g" "$s") && [[ $rc -eq 3 && $rc2 -eq 1 ]] && grep -q "giving up" "$tmp/g.err"; then
    ok "server-gone-exit-3-then-resume ($out)"
else
    fail "server-gone-exit-3-then-resume" "exits $rc, $rc2; $out; $(tail -n 2 "$tmp/g.err")"
fi

# Bytes COPY's text format must escape, and invalid UTF-8: a small site of
# its own whose page has a Content-Type with a backslash, a tab and bytes
# that are not UTF-8, and links with backslashes (kept in a mailto: URL's
# opaque path). The rows equal the files (U+FFFD as in pages.jsonl).
$PY - "$tmp/site.port" <<'EOF' &
import sys, http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == '/':
            body, ct = b'<a href="/odd">o</a> <a href="mailto:a\\b\\\\c">m</a>', b'text/html'
        else:
            body, ct = b'<a href="mailto:x\\y">m</a>', b'text/html; x="a\\b\tc\xff\xfe d\xc3\xa9"'
        self.wfile.write(b'HTTP/1.1 200 OK\r\nContent-Type: ' + ct + b'\r\nContent-Length: '
                         + str(len(body)).encode() + b'\r\nConnection: close\r\n\r\n' + body)
    def log_message(self, *a): pass
s = http.server.HTTPServer(('127.0.0.1', 0), H)
open(sys.argv[1] + '.tmp', 'w').write(str(s.server_address[1]))
import os; os.rename(sys.argv[1] + '.tmp', sys.argv[1])
s.serve_forever()
EOF
site_pid=$!
for _ in $(seq 50); do [[ -s $tmp/site.port ]] && break; sleep 0.1; done
"$bin" -q -o "$tmp/odd" --no-robots --no-sitemaps --pg "$conn" --pg-schema odd \
    "http://127.0.0.1:$(cat "$tmp/site.port")/"
rc=$?
kill "$site_pid" 2>/dev/null
wait "$site_pid" 2>/dev/null
ct=$(q "SELECT content_type FROM odd.pages WHERE url LIKE '%/odd'")
want='text/html; x="a\b'$'\t''c'$'\xef\xbf\xbd\xef\xbf\xbd'' d'$'\xc3\xa9''"'
if out=$(MIN_PAGES=2 equal "$tmp/odd" odd) && [[ $rc -eq 0 && $ct == "$want" ]] &&
    [[ $(q "SELECT count(*) FROM odd.links WHERE position(chr(92) IN target) > 0") -eq 2 ]]; then
    ok "escapes-and-invalid-utf8 ($out)"
else
    fail "escapes-and-invalid-utf8" "exit $rc; $out; content_type '$ct'; $(q 'SELECT * FROM odd.links')"
fi

# A record patched at the end: its row too (a relabel row in the last batch).
gen_site
"$bin" -q -o "$tmp/short" --user-agent crawltest/1.0 --depth 4 -c 8 --per-host 4 \
    --pg "$conn" --pg-schema short "http://127.0.0.1:$SITE_PORT/short/index.html"
rc=$?
x=$(q "SELECT depth || ' ' || parent FROM short.pages WHERE url LIKE '%/short/x.html'")
if out=$(MIN_PAGES=8 equal "$tmp/short" short) &&
    [[ $rc -eq 0 && $x == "2 "*/short/slow.html ]]; then
    ok "relabeled-row-patched ($out)"
else
    fail "relabeled-row-patched" "exit $rc; $out; x.html: $x"
fi

# Usage and connection errors.
"$bin" -q -o "$tmp/u1" --pg "not a conninfo" "$seed" 2>"$tmp/u.err"
rc=$?
[[ $rc -eq 2 ]] && ok "bad-conninfo-exit-2" || fail "bad-conninfo-exit-2" "exit $rc: $(cat "$tmp/u.err")"
"$bin" -q -o "$tmp/u2" --pg "host=127.0.0.1 port=1 connect_timeout=2" "$seed" 2>"$tmp/u.err"
rc=$?
if [[ $rc -eq 3 ]] && grep -q PostgreSQL "$tmp/u.err"; then ok "unreachable-exit-3"
else fail "unreachable-exit-3" "exit $rc: $(cat "$tmp/u.err")"; fi
"$bin" -q -o "$tmp/u3" --pg-schema "a;b" "$seed" 2>"$tmp/u.err"
rc=$?
[[ $rc -eq 2 ]] && ok "bad-schema-exit-2" || fail "bad-schema-exit-2" "exit $rc"
"$bin" -q -o "$tmp/u4" --delay 0.002 "$seed" &
pid=$!
sleep 0.3
kill -9 "$pid"
wait "$pid"
"$bin" -q -o "$tmp/u4" --pg "$conn" --pg-schema u4 "$seed" 2>"$tmp/u.err"
rc=$?
if [[ $rc -eq 2 ]] && grep -q "without --pg" "$tmp/u.err"; then ok "begun-without-pg-exit-2"
else fail "begun-without-pg-exit-2" "exit $rc: $(cat "$tmp/u.err")"; fi

exit $st
