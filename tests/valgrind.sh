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
)
[[ -f tests/valgrind.list ]] && mapfile -t -O ${#runs[@]} runs < <(grep -v '^#' tests/valgrind.list)

st=0
for r in "${runs[@]}"; do
    name=${r%%|*}
    args=${r#*|}
    [[ -x "$b/$name" ]] || { echo "FAIL $name: not built"; st=1; continue; }
    log=$(mktemp)
    # shellcheck disable=SC2086
    if valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
            --show-leak-kinds=definite "$b/$name" $args >/dev/null 2>"$log"; then
        echo "ok $name"
    else
        echo "FAIL $name"
        head -n 30 "$log"
        st=1
    fi
    rm -f "$log"
done
exit $st
