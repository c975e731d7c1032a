#!/usr/bin/env bash
# netns.sh - runs BUILDDIR/tests/netns_http (tests/http/netns_http.c) on each
# backend inside a network namespace of its own (unshare -n), where name
# lookups and connects fail without sending anything anywhere. Prints the
# program's "ok - ..." / "FAIL - ..." lines for tests/run.sh to add up.
# Where namespaces cannot be made (not root, no user namespaces), says so
# on one "ok netns.skipped (...)" line.
#   tests/http/netns.sh BUILDDIR
set -uo pipefail
b=${1:?usage: netns.sh BUILDDIR}
prog=$b/tests/netns_http
[[ -x $prog ]] || { echo "FAIL netns: $prog not built"; exit 1; }
if ! unshare -n true 2>/dev/null && ! unshare -rn true 2>/dev/null; then
    echo "ok netns.skipped (unshare -n is not allowed here)"
    exit 0
fi
flag=-n
unshare -n true 2>/dev/null || flag=-rn
st=0
for be in ${SIMUL_TEST_BACKENDS:-epoll io_uring}; do
    unshare $flag env SIMUL_BACKEND="$be" "$prog" | sed "s/^\(ok - \|FAIL - \)/\1$be./" || st=1
done
exit $st
