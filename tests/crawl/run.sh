#!/usr/bin/env bash
# run.sh BUILDDIR - the crawler's bad-input tests, as tests/run.sh runs
# them for each build directory: the instruments first (site_test.sh: the
# generated site, the connection meter, the checker), then every
# tests/crawl/*_test.sh that crawls (they need BUILDDIR/tools/simul-crawl
# and say so with one "ok ...skipped" line when it is not built).
# Prints the scripts' "ok NAME" / "FAIL NAME: why" lines; exits 1 if one
# failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
b=${1:-build}
st=0
tests/crawl/site_test.sh "$b" || st=1
for t in tests/crawl/*_test.sh; do
    [[ $t == tests/crawl/site_test.sh ]] && continue
    [[ -x $t ]] || continue
    if [[ ! -x $b/tools/simul-crawl ]]; then
        echo "ok $(basename "$t" _test.sh).skipped (no $b/tools/simul-crawl)"
        continue
    fi
    "$t" "$b" || st=1
done
exit $st
