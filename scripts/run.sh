#!/usr/bin/env bash
# run.sh - `make run`: the main job. Until the crawler exists, it runs the
# walkthrough's tutorial programs, each the C twin of a Python one.
set -euo pipefail
b=${1:-build}/examples
for ex in countasync countsync rand "chained 9 6 3" coro "asyncq -p 2 -c 5" mygen; do
    set -- $ex
    if [[ -x "$b/$1" ]]; then
        echo "== $ex"
        "$b/$@"
    fi
done
