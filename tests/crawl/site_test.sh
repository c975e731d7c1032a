#!/usr/bin/env bash
# site_test.sh BUILDDIR - the crawler tests' own instruments, checked with
# curl before any crawler is trusted with them: the generated site
# (gensite.py's html5lib self-check passes, the same seed gives the same
# site, nginx answers each host's robots.txt, statuses, redirects, traps and
# types as the truth says), the connection meter (three connections held
# at once read as a peak of three on that host; fifty connections one after
# another, each closed before the next opens, as a peak of one) and
# check.py's timing checks (requests 0.3 s apart pass --delay 0.3, requests
# at once fail it).
# Prints "ok NAME" / "FAIL NAME: why"; exits 1 if anything failed.
PREFIX=site.
# shellcheck source=tests/crawl/lib.sh
source "$(dirname "$0")/lib.sh"
gen_site --meter --huge-mib 1
ok start
# Deterministic: the same seed and ports give the same files and truth.
$PY tests/crawl/gensite.py "$tmp/again" --port "$SITE_PORT" --fault-port "$FAULT_PORT" \
    --huge-mib 1 >/dev/null 2>&1
if diff -r -q "$tmp/s/root" "$tmp/again/root" >/dev/null &&
   cmp -s "$tmp/s/truth.json" "$tmp/again/truth.json"; then
    ok deterministic
else
    fail deterministic "a second run with the same seed differs"
fi
$PY tests/crawl/gensite.py "$tmp/other" --port "$SITE_PORT" --fault-port "$FAULT_PORT" \
    --huge-mib 1 --seed 2 >/dev/null 2>&1
cmp -s "$tmp/s/truth.json" "$tmp/other/truth.json" && fail seeded "seed 2 gives seed 1's site" || ok seeded

# What nginx answers, against the truth.
u=http://127.0.0.1:$SITE_PORT
code() { curl -s -o /dev/null -w '%{http_code}' "$1"; }
want() { # NAME URL CODE
    local c
    c=$(code "$2")
    [[ $c == "$3" ]] && ok "$1" || fail "$1" "$2 answered $c, want $3"
}
want robots.h1 "$u/robots.txt" 301
want robots.h2 "http://127.0.0.2:$SITE_PORT/robots.txt" 200
want robots.h3 "http://127.0.0.3:$SITE_PORT/robots.txt" 404
want robots.h4 "http://127.0.0.4:$SITE_PORT/robots.txt" 500
want status.404 "$u/errors/missing.html" 404
want status.500 "$u/status/500" 500
want status.429 "$u/status/429" 429
want redirect.chain "$u/r/chain1" 302
want trap.cal "$u/trap/cal?month=10" 200
want trap.deep "$u/trap/deep/x/x/" 200
want charset.latin1 "$u/charset/caf%E9.html" 200
want space "$u/spaces/with%20space.html" 200
want faultd "http://127.0.0.1:$FAULT_PORT/ok" 200
ra=$(curl -s -D - -o /dev/null "$u/status/429" | tr -d '\r' | sed -n 's/^Retry-After: //Ip')
[[ $ra == 1 ]] && ok retry-after || fail retry-after "Retry-After '$ra', want 1"
final=$(curl -s -L -o /dev/null -w '%{url_effective}' "$u/r/chain1")
[[ $final == "$u/r/target.html" ]] && ok redirect.final || fail redirect.final "ends at $final"
ct=$(curl -s -o /dev/null -w '%{content_type}' "$u/files/page.xhtml")
[[ $ct == application/xhtml+xml* ]] && ok type.xhtml || fail type.xhtml "$ct"
n=$($PY -c "import json; print(len(json.load(open('$SITE_TRUTH'))['fetch']))")
((n > 150)) && ok truth.size || fail truth.size "only $n pages in the truth"

# The meter: three connections open at once on host 3, then fifty in a row.
: >"$SITE_METER"
$PY - "$SITE_PORT" <<'EOF'
import socket, sys, time
p = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.3", p)) for _ in range(3)]
time.sleep(0.3)
for s in held:
    s.close()
time.sleep(0.2)
for _ in range(50):
    s = socket.create_connection(("127.0.0.2", p))
    s.sendall(b"GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    while s.recv(65536):
        pass
    s.close()
time.sleep(0.3)
EOF
peaks=$($PY tests/crawl/connmeter.py --peak "$SITE_METER")
p3=$($PY -c "import json,sys; print(json.loads(sys.argv[1]).get('127.0.0.3:$SITE_PORT'))" "$peaks")
p2=$($PY -c "import json,sys; print(json.loads(sys.argv[1]).get('127.0.0.2:$SITE_PORT'))" "$peaks")
[[ $p3 == 3 ]] && ok meter.concurrent || fail meter.concurrent "peak $p3 on host 3, want 3 ($peaks)"
[[ $p2 == 1 ]] && ok meter.serial || fail meter.serial "peak $p2 on host 2, want 1 ($peaks)"

# check.py's timing checks on a log made here: 0.3 s apart, then at once.
: >"$SITE_LOG"
for i in 1 2 3 4; do curl -s -o /dev/null "$u/kinds/rel.html"; sleep 0.3; done
mkdir -p "$tmp/job"
if $PY tests/crawl/check.py "$SITE_TRUTH" "$tmp/job" "$SITE_LOG" --delay 0.25 --only delay \
        --prefix x >/dev/null; then ok check.delay-kept; else fail check.delay-kept "0.3 s gaps fail --delay 0.25"; fi
curl -s --no-progress-meter -Z -o /dev/null -o /dev/null -o /dev/null "$u/kinds/rel.html" "$u/kinds/abs-path.html" "$u/kinds/single.html"
if $PY tests/crawl/check.py "$SITE_TRUTH" "$tmp/job" "$SITE_LOG" --delay 0.25 --only delay \
        --prefix x >/dev/null; then fail check.delay-broken "back-to-back requests pass --delay 0.25"; else ok check.delay-broken; fi
exit $st
