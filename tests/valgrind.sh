#!/usr/bin/env bash
# valgrind.sh - runs the examples under valgrind memcheck, on a build made
# with -Dvalgrind=true (task stacks registered with valgrind). Any error or
# definite leak fails the run. One line per example: "ok NAME" / "FAIL NAME".
#   tests/valgrind.sh build-vg
set -uo pipefail
b=${1:-build-vg}/examples
command -v valgrind >/dev/null || { echo "FAIL valgrind: not installed (scripts/deps.sh)"; exit 1; }

# name|arguments (scaled down where the example has --scale)
runs=(
    "countasync|"
    "rand|--scale 0.02"
    "chained|--scale 0.02 9 6 3"
    "coro|--scale 0.01"
    "asyncq|-p 2 -c 5 --scale 0.01"
    "mygen|"
    "areq-append|@TMP@/found.tsv"
)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
vg=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
    --show-leak-kinds=definite)
[[ -f tests/valgrind.list ]] && mapfile -t -O ${#runs[@]} runs < <(grep -v '^#' tests/valgrind.list)

st=0
for r in "${runs[@]}"; do
    name=${r%%|*}
    args=${r#*|}
    args=${args//@TMP@/$tmp}
    [[ -x "$b/$name" ]] || { echo "FAIL $name: not built"; st=1; continue; }
    log=$(mktemp)
    # shellcheck disable=SC2086
    if "${vg[@]}" "$b/$name" $args >/dev/null 2>"$log"; then
        echo "ok $name"
    else
        echo "FAIL $name"
        head -n 30 "$log"
        st=1
    fi
    rm -f "$log"
done
# echo-server and echo-client together; SIGINT stops the server (simul_run
# cancels main and shuts down), so its whole shutdown path is checked too.
if [[ -x "$b/echo-server" && -x "$b/echo-client" ]]; then
    "${vg[@]}" --log-file="$tmp/srv.vg" "$b/echo-server" 0 >"$tmp/srv.out" 2>&1 &
    srv=$!
    port=
    for _ in $(seq 200); do
        port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/srv.out")
        [[ -n "$port" ]] && break
        sleep 0.05
    done
    if [[ -n "$port" ]] && "${vg[@]}" "$b/echo-client" "$port" hello >/dev/null 2>"$tmp/cli.vg"; then
        echo "ok echo-client"
    else
        echo "FAIL echo-client"; cat "$tmp/cli.vg"; st=1
    fi
    kill -INT "$srv"
    if wait "$srv"; then
        echo "ok echo-server"
    else
        echo "FAIL echo-server"; head -n 30 "$tmp/srv.vg"; st=1
    fi
fi
exit $st
