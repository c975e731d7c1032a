#!/usr/bin/env bash
# packages.sh - installing packages stays visible and confined. With fake
# dpkg-query / apt-get / sudo first in PATH (no real package is touched):
#   - scripts/deps.sh --check names what is missing and `make deps`, exits 1
#     and installs nothing; with nothing missing it is silent and exits 0;
#   - scripts/deps.sh installs only what is missing (update first) and says
#     what it installs; the test list adds valgrind and g++ to the build list;
#   - a plain `make` with a package missing stops with that message before
#     building anything, and installs nothing;
#   - make run / test / bench install (deps.sh run / test / bench), make
#     and make install only check (make -n shows what each runs).
# One line per check: "ok NAME" / "FAIL NAME: why"; exits 1 if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
st=0
ok()   { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; st=1; }

fake=$(mktemp -d)
trap 'rm -rf "$fake"' EXIT
# dpkg-query: a package is installed unless listed in $fake/missing.
cat >"$fake/dpkg-query" <<'SH'
#!/bin/sh
for p; do :; done
grep -qx "$p" "$FAKE/missing" && exit 1
printf 'install ok installed'
SH
# apt-get: logs its arguments; "installing" a package removes it from missing.
cat >"$fake/apt-get" <<'SH'
#!/bin/sh
echo "apt-get $*" >>"$FAKE/log"
for p; do sed -i "/^$p\$/d" "$FAKE/missing"; done
SH
printf '#!/bin/sh\nexec "$@"\n' >"$fake/sudo"
chmod +x "$fake"/*
export FAKE=$fake PATH=$fake:$PATH

# --check: names the missing package and make deps, installs nothing.
printf 'liburing-dev\n' >"$fake/missing"
: >"$fake/log"
out=$(scripts/deps.sh --check build 2>&1)
rc=$?
if [[ $rc -eq 1 && $out == *liburing-dev* && $out == *"make deps"* && ! -s $fake/log ]]; then
    ok deps.check_names_missing
else
    fail deps.check_names_missing "exit $rc, apt-get log: $(cat "$fake/log"), said: $out"
fi
: >"$fake/missing"
out=$(scripts/deps.sh --check build 2>&1)
rc=$?
[[ $rc -eq 0 && -z $out ]] && ok deps.check_quiet_when_complete ||
    fail deps.check_quiet_when_complete "exit $rc: $out"

# install: only what is missing, and says so.
printf 'g++\nvalgrind\n' >"$fake/missing"
: >"$fake/log"
out=$(scripts/deps.sh build 2>&1)
rc=$?
[[ $rc -eq 0 && ! -s $fake/log && -z $out ]] && ok deps.build_list_needs_no_test_tools ||
    fail deps.build_list_needs_no_test_tools "exit $rc, log: $(cat "$fake/log"), said: $out"
out=$(scripts/deps.sh test 2>&1)
rc=$?
log=$(cat "$fake/log")
inst=$(grep ' install ' <<<"$log")
if [[ $rc -eq 0 && $log == "apt-get update"* && $inst == *" g++"* && $inst == *" valgrind"* &&
      $inst != *gcc* && $out == *"installing "*g++* && $out == *"installing "*valgrind* &&
      ! -s $fake/missing ]]; then
    ok deps.installs_only_missing_and_says_so
else
    fail deps.installs_only_missing_and_says_so "exit $rc, log: $log, said: $out"
fi
: >"$fake/log"
out=$(scripts/deps.sh test 2>&1)
[[ ! -s $fake/log && -z $out ]] && ok deps.idempotent || fail deps.idempotent "log: $(cat "$fake/log")"

# make: checks only, names make deps, stops before meson or ninja run.
printf 'meson\n' >"$fake/missing"
: >"$fake/log"
out=$(make --no-print-directory all 2>&1)
rc=$?
if [[ $rc -ne 0 && $out == *meson* && $out == *"make deps"* && $out != *ninja:* && ! -s $fake/log ]]; then
    ok make.plain_make_only_checks
else
    fail make.plain_make_only_checks "exit $rc, log: $(cat "$fake/log"), said: $out"
fi
: >"$fake/missing"

# Which targets install and which only check.
want() { # target expected-deps-line
    local got
    got=$(make -n --no-print-directory $1 2>/dev/null | grep -m1 'scripts/deps.sh')
    [[ $got == "scripts/deps.sh $2" ]] && ok "make.$1" || fail "make.$1" "runs '$got'"
}
want all "--check build"
want install "--check build"
want run run
want test test
want bench bench
want deps test
exit $st
