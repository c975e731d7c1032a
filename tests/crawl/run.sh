#!/usr/bin/env bash
# run.sh BUILDDIR - the crawler's bad-input tests, as tests/run.sh runs
# them for each build directory: the instruments first (site_test.sh: the
# generated site, the connection meter, the checker), then every
# tests/crawl/*_test.sh that crawls (they need BUILDDIR/tools/simul-crawl
# and say so with one "ok ...skipped" line when it is not built). For an
# ASan build (a directory named *asan*) only badsite_test.sh runs: memory
# errors on bad input are what it adds, and the suite stays near a minute
# (the instruments do not depend on the build; resume's kill loop is slow).
# Prints the scripts' "ok NAME" / "FAIL NAME: why" lines; exits 1 if one
# failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
b=${1:-build}
st=0
tests=(tests/crawl/*_test.sh)
[[ $b == *asan* ]] && tests=(tests/crawl/badsite_test.sh)
for t in "${tests[@]}"; do
    [[ -x $t ]] || continue
    if [[ $t == tests/crawl/site_test.sh ]]; then
        "$t" "$b" || st=1
        continue
    fi
    if [[ ! -x $b/tools/simul-crawl ]]; then
        echo "ok $(basename "$t" _test.sh).skipped (no $b/tools/simul-crawl)"
        continue
    fi
    "$t" "$b" || st=1
done
exit $st
