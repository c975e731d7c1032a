#!/usr/bin/env bash
# nginx_test.sh - the HTTP tests' nginx (tests/http/nginx.sh) does what the
# client tests rely on, checked with the curl binary: it starts on free
# loopback ports, serves a page over HTTP/1.1, over TLS with the CA made at
# start (and refuses a client without it), over HTTP/2, gzips HTML, answers
# 404, the redirect and the redirect loops, listens on 127.0.0.2 too, keeps
# a connection alive, serves through symlinks, and stop leaves no process.
# One line per check: "ok NAME" / "FAIL NAME: why".
#   tests/http/nginx_test.sh
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
st=0
ok()   { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; st=1; }
check() { # name expected got
    if [[ "$3" == "$2" ]]; then ok "$1"; else fail "$1" "expected '$2', got '$3'"; fi
}

tmp=$(mktemp -d)
trap '"$here/nginx.sh" stop "$tmp/srv"; rm -rf "$tmp"' EXIT
mkdir -p "$tmp/site" "$tmp/real"
page='<!doctype html><html><head><title>t</title></head><body>'
for i in $(seq 40); do page+="<p><a href=\"p$i.html\">page $i</a></p>"; done
page+='</body></html>'
printf '%s\n' "$page" >"$tmp/site/index.html"
printf '%s\n' "$page" >"$tmp/real/deep.html"
ln -s ../real "$tmp/site/linked"
size=$(stat -c %s "$tmp/site/index.html")

if ! "$here/nginx.sh" start "$tmp/srv" "$tmp/site" >"$tmp/start.log" 2>&1; then
    fail nginx.start "$(cat "$tmp/start.log")"
    exit 1
fi
ok nginx.start
# shellcheck disable=SC1091
. "$tmp/srv/env"
for v in NGINX_PORT NGINX_TLS_PORT NGINX_URL NGINX_TLS_URL NGINX_CA NGINX_PID; do
    [[ -n ${!v:-} ]] || fail nginx.env "$v missing from DIR/env"
done
C=(curl -sS --max-time 10)

# (curl's -w): status, HTTP version, size downloaded
check http.get "200 1.1 $size" "$("${C[@]}" -o "$tmp/out" -w '%{http_code} %{http_version} %{size_download}' "$NGINX_URL/index.html")"
cmp -s "$tmp/out" "$tmp/site/index.html" && ok http.body || fail http.body "body differs"
check http.127.0.0.2 "200" "$("${C[@]}" -o /dev/null -w '%{http_code}' "http://127.0.0.2:$NGINX_PORT/index.html")"
check https.get "200 1.1 $size" "$("${C[@]}" --http1.1 --cacert "$NGINX_CA" -o /dev/null -w '%{http_code} %{http_version} %{size_download}' "$NGINX_TLS_URL/index.html")"
check https.ip "200" "$("${C[@]}" --cacert "$NGINX_CA" -o /dev/null -w '%{http_code}' "https://127.0.0.1:$NGINX_TLS_PORT/index.html")"
check http2.get "200 2 $size" "$("${C[@]}" --http2 --cacert "$NGINX_CA" -o /dev/null -w '%{http_code} %{http_version} %{size_download}' "$NGINX_TLS_URL/index.html")"
# Without the CA the certificate is unknown: curl's error 60.
"${C[@]}" -o /dev/null "$NGINX_TLS_URL/index.html" 2>/dev/null
check https.unknown-ca 60 $?
# gzip: the encoded body is smaller and decodes to the page.
enc=$("${C[@]}" -H 'Accept-Encoding: gzip' -D "$tmp/h" -o "$tmp/gz" -w '%{size_download}' "$NGINX_URL/index.html")
if grep -qi '^content-encoding: gzip' "$tmp/h" && ((enc < size)) &&
   gzip -dc "$tmp/gz" | cmp -s - "$tmp/site/index.html"; then
    ok http.gzip
else
    fail http.gzip "encoded $enc bytes of $size; headers: $(tr -d '\r' <"$tmp/h" | tr '\n' '|')"
fi
check http2.gzip "gzip" "$("${C[@]}" --http2 --cacert "$NGINX_CA" -H 'Accept-Encoding: gzip' -o /dev/null -D - "$NGINX_TLS_URL/index.html" | tr -d '\r' | sed -n 's/^content-encoding: //Ip')"
check http.404 "404" "$("${C[@]}" -o /dev/null -w '%{http_code}' "$NGINX_URL/no-such-page.html")"
check http.404-path "404" "$("${C[@]}" -o /dev/null -w '%{http_code}' "$NGINX_URL/404")"
check http.redir "301 $NGINX_URL/index.html" "$("${C[@]}" -o /dev/null -w '%{http_code} %{redirect_url}' "$NGINX_URL/redir")"
check http.redir-follow "200 1" "$("${C[@]}" -L -o /dev/null -w '%{http_code} %{num_redirects}' "$NGINX_URL/redir")"
# A loop: curl gives up after --max-redirs (error 47).
"${C[@]}" -L --max-redirs 5 -o /dev/null "$NGINX_URL/redir-loop" 2>/dev/null
check http.redir-loop 47 $?
"${C[@]}" -L --max-redirs 5 -o /dev/null "$NGINX_URL/redir-a" 2>/dev/null
check http.redir-loop2 47 $?
# The corpus (scripts/corpus.sh): mirrors served through their symlinks.
root=$(cd "$here/../.." && pwd)
if "$root/scripts/corpus.sh" "$tmp/site/corpus" 2 >/dev/null 2>"$tmp/corpus.err"; then
    check corpus.urls "10600" "$("$root/scripts/corpus.sh" urls "$NGINX_URL/corpus" | wc -l)"
    got=$("$root/scripts/corpus.sh" urls "$NGINX_URL/corpus" 2 | sed -n '1p;$p' |
          xargs "${C[@]}" -o /dev/null -o /dev/null -w '%{http_code} ')
    check corpus.served "200 200 " "$got"
else
    fail corpus "$(cat "$tmp/corpus.err")"
fi
check http.symlink "200" "$("${C[@]}" -o /dev/null -w '%{http_code}' "$NGINX_URL/linked/deep.html")"
# Keep-alive: 20 requests on one connection (curl counts new connects).
urls=()
for _ in $(seq 20); do urls+=(-o /dev/null "$NGINX_URL/index.html"); done
check http.keepalive "1" "$("${C[@]}" -w '%{num_connects}\n' "${urls[@]}" | awk '{ n += $1 } END { print n }')"

"$here/nginx.sh" stop "$tmp/srv"
# shellcheck source=tests/proc.sh
source "$here/../proc.sh"   # alive: an exited master that init has not reaped yet is not running
if alive "$NGINX_PID"; then
    fail nginx.stop "master $NGINX_PID still running"
elif pgrep -f "nginx.*$tmp/srv" >/dev/null; then
    fail nginx.stop "an nginx process of $tmp/srv is still running"
else
    ok nginx.stop
fi
exit $st
