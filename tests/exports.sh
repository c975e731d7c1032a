#!/usr/bin/env bash
# exports.sh - what libsimul.so exports is the public API and nothing else:
#   - every defined dynamic symbol starts with simul_ and none with simul__
#     (internals are hidden: gnu_symbol_visibility 'hidden' + SIMUL_API);
#   - no thread-local variable is exported (the loop's TLS stays internal);
#   - every function declared in include/ is exported (a missing SIMUL_API
#     hides it) and every exported symbol is declared there.
# One line per check: "ok NAME" / "FAIL NAME: why"; exits 1 if any failed.
#   tests/exports.sh BUILDDIR [INCLUDE_DIR]
set -uo pipefail
b=${1:?build dir}
inc=${2:-$(dirname "$0")/../include}
st=0
ok()   { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; st=1; }

lib=$b/libsimul.so
[[ -e $lib ]] || { fail exports "no $lib (build it first)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

nm -D --defined-only "$lib" | awk '{print $3}' | sed 's/@.*//' | sort -u >"$tmp/exported"
bad=$(grep -v '^simul_' "$tmp/exported"; grep '^simul__' "$tmp/exported")
[[ -z $bad ]] && ok exports.only_simul_names ||
    fail exports.only_simul_names "exported: $(tr '\n' ' ' <<<"$bad")"

tls=$(readelf --dyn-syms -W "$lib" | awk '$4 == "TLS" && $7 != "UND" {print $8}')
[[ -z $tls ]] && ok exports.no_tls || fail exports.no_tls "exported: $(tr '\n' ' ' <<<"$tls")"

# The functions the public headers declare (every header in include/), as
# the compiler sees them.
(cd "$inc" && find . -name '*.h' | sed 's|^\./\(.*\)|#include <\1>|') |
    ${CC:-cc} -std=c11 -I"$inc" -x c -fsyntax-only -aux-info "$tmp/aux" - 2>"$tmp/err" ||
    { fail exports.declared "cannot compile the headers: $(head -3 "$tmp/err")"; exit 1; }
sed -n 's|^/\* [^ ]*include/.*[ *]\(simul_[a-z0-9_]*\) (.*|\1|p' "$tmp/aux" | sort -u >"$tmp/declared"
[[ -s $tmp/declared ]] || { fail exports.declared "no declaration found in $inc"; exit 1; }
hidden=$(comm -23 "$tmp/declared" "$tmp/exported")
[[ -z $hidden ]] && ok exports.every_public_function ||
    fail exports.every_public_function "declared but not exported (SIMUL_API missing?): $(tr '\n' ' ' <<<"$hidden")"
extra=$(comm -13 "$tmp/declared" "$tmp/exported")
[[ -z $extra ]] && ok exports.nothing_undeclared ||
    fail exports.nothing_undeclared "exported but in no public header: $(tr '\n' ' ' <<<"$extra")"
exit $st
