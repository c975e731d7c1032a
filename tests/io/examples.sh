#!/usr/bin/env bash
# examples.sh - checks the I/O examples' behaviour: areq-append's output file
# (header, links, the failing page skipped) and echo-server + echo-client
# talking over loopback. One line per check: "ok NAME" / "FAIL NAME: why".
#   tests/io/examples.sh BUILDDIR
set -uo pipefail
b=$(cd "${1:?build dir}" && pwd)/examples   # absolute: used from other dirs
st=0
ok()   { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; st=1; }

tmp=$(mktemp -d)
trap 'kill "${srv:-}" 2>/dev/null; rm -rf "$tmp"' EXIT

# areq-append: the walkthrough's areq.py file side, on its built-in pages
if out=$(cd "$tmp" && timeout 20 "$b/areq-append" "$tmp/found.tsv" 2>&1); then
    ok areq-append.run
else
    fail areq-append.run "exit $?: $out"
fi
if [[ "$(head -n 1 "$tmp/found.tsv" 2>/dev/null)" == $'source_url\tparsed_url' ]] &&
   [[ $(grep -c $'^https://regex101.com/\thttps://regex101.com/' "$tmp/found.tsv") -eq 2 ]] &&
   [[ $(grep -c $'^https://www.nytimes.com/guides/\t' "$tmp/found.tsv") -eq 3 ]] &&
   [[ $(wc -l < "$tmp/found.tsv") -eq 6 ]]; then
    ok areq-append.file
else
    fail areq-append.file "unexpected content: $(tr '\n' '|' < "$tmp/found.tsv" 2>/dev/null)"
fi
if grep -q "^Error for https://docs.python.org/3/this-url-will-404.html" <<<"$out" &&
   grep -q "^Wrote results for source URL: https://www.nytimes.com/guides/" <<<"$out"; then
    ok areq-append.log
else
    fail areq-append.log "log lines missing: $out"
fi

# echo-server on a port the kernel picks (0), which it prints; then the client
"$b/echo-server" 0 >"$tmp/srv.log" 2>&1 &
srv=$!
port=
for _ in $(seq 100); do
    port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/srv.log")
    [[ -n "$port" ]] && break
    sleep 0.05
done
got=$(timeout 10 "$b/echo-client" "$port" one "two words" 2>&1)
if [[ "$got" == $'one\ntwo words' ]]; then
    ok echo.roundtrip
else
    fail echo.roundtrip "got: $got"
fi
kill "$srv" 2>/dev/null
wait "$srv" 2>/dev/null
exit $st
