#!/usr/bin/env bash
# faultd_test.sh - the fault server (tests/http/faultd.c) misbehaves as the
# HTTP client tests expect, as the curl binary sees it: each path's status,
# headers, body or the error curl reports (its exit code), keep-alive, the
# connection counts of /stats in all and per address (127.0.0.1 and
# 127.0.0.2), 300 connections at once, and a clean stop on SIGTERM.
# One line per check: "ok NAME" / "FAIL NAME: why".
#   tests/http/faultd_test.sh BUILDDIR
set -uo pipefail
faultd=$(cd "${1:?build dir}" && pwd)/tests/faultd
st=0
ok()   { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; st=1; }
check() { # name expected got
    if [[ "$3" == "$2" ]]; then ok "faultd.$1"; else fail "faultd.$1" "expected '$2', got '$3'"; fi
}
[[ -x $faultd ]] || { fail faultd.built "no $faultd"; exit 1; }

tmp=$(mktemp -d)
pid=
slow=()
cleanup() {
    [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    for p in "${slow[@]}"; do kill "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
ulimit -n 4096 2>/dev/null || true

"$faultd" -2 >"$tmp/out" 2>"$tmp/err" &
pid=$!
port=
for _ in $(seq 200); do
    port=$(head -n 1 "$tmp/out")
    [[ -n $port ]] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.02
done
[[ $port =~ ^[0-9]+$ ]] || { fail faultd.start "no port printed: $(cat "$tmp/err")"; exit 1; }
ok faultd.start
U=http://127.0.0.1:$port
U2=http://127.0.0.2:$port
C=(curl -sS --max-time 10)
code() { "${C[@]}" -o /dev/null -w '%{http_code}' "$@"; }
rc() { "${C[@]}" -o /dev/null "$@" 2>/dev/null; echo $?; }   # curl's exit code

check ok "200" "$(code "$U/ok")"
check ok.body "2" "$("${C[@]}" "$U/ok" | grep -o 'href=' | wc -l)"
check ok.127.0.0.2 "200" "$(code "$U2/ok")"
urls=()
for _ in $(seq 10); do urls+=(-o /dev/null "$U/ok"); done
check keepalive "1" "$("${C[@]}" -w '%{num_connects}\n' "${urls[@]}" | awk '{ n += $1 } END { print n }')"
check connection-close "close" "$("${C[@]}" -H 'Connection: close' -D - -o /dev/null "$U/ok" | tr -d '\r' | sed -n 's/^Connection: //p')"
check 404 "404" "$(code "$U/nothing-here")"
# curl's exit codes: 56 receive failure (reset; bad chunk), 28 timeout,
# 18 partial file, 1 "Unsupported response code" (the garbage status) and
# "Protocol file not supported" (the redirect), 27 "Out of memory" (curl's
# 100 KiB header cap), 47 too many redirects, 63 maximum file size.
check reset-headers 56 "$(rc "$U/reset-headers")"
check reset-body 56 "$(rc "$U/reset-body")"
check never 28 "$(rc --max-time 0.5 "$U/never")"
got=$("${C[@]}" --max-time 0.7 -o /dev/null -w '%{http_code} %{size_download}' "$U/stall" 2>/dev/null; echo " $?")
check stall "200 50000 28" "$got"
got=$("${C[@]}" --max-time 0.6 -o /dev/null -w '%{size_header}' "$U/slowloris?ms=50" 2>/dev/null; echo " $?")
[[ $got == *" 28" ]] && ok faultd.slowloris || fail faultd.slowloris "curl: $got"
check garbage-status 1 "$(rc "$U/garbage-status")"
check big-header 27 "$(rc "$U/big-header")"
# The whole answer, read raw: over 1 MiB of header.
got=$(exec 3<>"/dev/tcp/127.0.0.1/$port" &&
      printf 'GET /big-header HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3 &&
      timeout 5 cat <&3 | wc -c)
((got > 1048576)) && ok faultd.big-header.size || fail faultd.big-header.size "$got bytes"
got=$("${C[@]}" -o /dev/null -w '%{size_download}' "$U/short-body" 2>/dev/null; echo " $?")
check short-body "500 18" "$got"
check bad-chunked 56 "$(rc "$U/bad-chunked")"
# The bomb, small: 10 MiB of zeros from about 10 KiB.
got=$("${C[@]}" -o "$tmp/bomb" -w '%{size_download}' "$U/gzip-bomb?mib=10")
dec=$(gzip -dc "$tmp/bomb" | wc -c)
if ((dec == 10485760 && got < 20000)) && gzip -t "$tmp/bomb" &&
   [[ -z $(gzip -dc "$tmp/bomb" | tr -d '\0' | head -c 1) ]]; then
    ok faultd.gzip-bomb.small
else
    fail faultd.gzip-bomb.small "$got bytes on the wire, $dec decoded"
fi
# The real one: its Content-Length says about 10 MiB (10 GiB decoded);
# curl's --max-filesize refuses it from the header alone (exit 63).
"${C[@]}" -D "$tmp/bh" -o /dev/null --max-filesize 1000000 "$U/gzip-bomb" 2>/dev/null
e=$?
len=$(tr -d '\r' <"$tmp/bh" | sed -n 's/^Content-Length: //p')
if ((e == 63)) && [[ $len =~ ^[0-9]+$ ]] && ((len > 10000000 && len < 12000000)) &&
   grep -qi '^Content-Encoding: gzip' "$tmp/bh"; then
    ok faultd.gzip-bomb
else
    fail faultd.gzip-bomb "curl exit $e, Content-Length '$len'"
fi
check redirect-loop 47 "$(rc -L --max-redirs 5 "$U/redirect-loop")"
check redirect-file "302 file:///etc/passwd" "$("${C[@]}" -o /dev/null -w '%{http_code} %{redirect_url}' "$U/redirect-file")"
check redirect-file.refused 1 "$(rc -L "$U/redirect-file")"
check 429 "429 2" "$("${C[@]}" -o /dev/null -D "$tmp/h" -w '%{http_code}' "$U/429") $(tr -d '\r' <"$tmp/h" | sed -n 's/^Retry-After: //p')"
ct() { "${C[@]}" -o "$tmp/body" -w '%{content_type}' "$1"; }
check bad-utf8 "text/html; charset=utf-8 invalid" "$(ct "$U/bad-utf8") $(iconv -f utf-8 -t utf-8 "$tmp/body" >/dev/null 2>&1 && echo valid || echo invalid)"
check wrong-charset "text/html; charset=utf-8 invalid" "$(ct "$U/wrong-charset") $(iconv -f utf-8 -t utf-8 "$tmp/body" >/dev/null 2>&1 && echo valid || echo invalid)"
check latin1 "text/html; charset=iso-8859-1 café" "$(ct "$U/latin1") $(iconv -f latin1 -t utf-8 "$tmp/body" | grep -o 'café' | head -n 1)"
check plain "text/plain; charset=utf-8" "$(ct "$U/plain")"
check nolinks "200 0" "$(code "$U/nolinks") $("${C[@]}" "$U/nolinks" | grep -c href)"
t=$("${C[@]}" -o /dev/null -w '%{time_total}' "$U/slow?ms=300")
awk -v t="$t" 'BEGIN { exit !(t >= 0.3 && t < 5) }' && ok faultd.slow || fail faultd.slow "took $t s"

# Connection counts: 3 slow requests on 127.0.0.1 and 2 on 127.0.0.2 at
# once; /stats counts the connection asking as open.
stat() { "${C[@]}" "$1/stats" | /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {}, d))" "$2"; }
check stats.reset "reset" "$("${C[@]}" "$U/stats/reset")"
slow=()
for _ in 1 2 3; do "${C[@]}" -o /dev/null "$U/slow?ms=3000" & slow+=($!); done
for _ in 1 2; do "${C[@]}" -o /dev/null "$U2/slow?ms=3000" & slow+=($!); done
got=
for _ in $(seq 100); do
    got=$(stat "$U" "(hosts['127.0.0.1']['open'], hosts['127.0.0.2']['open'], open)")
    [[ $got == "(4, 2, 6)" ]] && break
    sleep 0.05
done
check stats.open "(4, 2, 6)" "$got"
wait "${slow[@]}" 2>/dev/null
check stats.after "(1, 0, 4, 2, 6)" "$(stat "$U" "(open, hosts['127.0.0.2']['open'], hosts['127.0.0.1']['peak'], hosts['127.0.0.2']['peak'], peak)")"
# ... the two slow ones and this one
check stats.accepted "(3, 3)" "$(stat "$U2" "(hosts['127.0.0.2']['accepted'], hosts['127.0.0.2']['requests'])")"

# 300 connections at once (curl's most): all answered, all counted.
"${C[@]}" "$U/stats/reset" >/dev/null
for i in $(seq 300); do echo "url = \"$U/slow?ms=1500&i=$i\""; echo 'output = "/dev/null"'; done >"$tmp/many.cfg"
n=$(curl -sS --no-progress-meter --max-time 30 -Z --parallel-immediate --parallel-max 300 -K "$tmp/many.cfg" -w '%{http_code}\n' | grep -c '^200$')
check many "300 (True, 301)" "$n $(stat "$U" "peak >= 300, accepted")"

# SIGTERM: a clean exit, nothing left.
kill -TERM "$pid"
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.02; done
if kill -0 "$pid" 2>/dev/null; then
    fail faultd.sigterm "still running"
else
    wait "$pid"
    check sigterm 0 $?
fi
pid=
# A sanitizer build reports on stderr (and in the exit status above).
if grep -qE 'Sanitizer|runtime error' "$tmp/err"; then
    fail faultd.sanitizer "$(head -n 20 "$tmp/err")"
fi
exit $st
