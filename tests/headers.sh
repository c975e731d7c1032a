#!/usr/bin/env bash
# headers.sh - every public header compiles alone, first in its translation
# unit, as C11 and as C++17, with -Wall -Wextra -Werror -pedantic: a user may
# include any one of them, from C or C++. One line per check:
# "ok NAME" / "FAIL NAME: why"; exits 1 if any failed.
#   tests/headers.sh [INCLUDE_DIR]      (default: include/ beside tests/)
# CC and CXX choose the compilers (default cc and c++).
set -uo pipefail
inc=${1:-$(dirname "$0")/../include}
cc=${CC:-cc}
cxx=${CXX:-c++}
st=0
ok()   { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; st=1; }

headers=$(cd "$inc" && find . -name '*.h' | sed 's|^\./||' | sort)
[[ -n "$headers" ]] || { fail headers "no header under $inc"; exit 1; }
for h in $headers; do
    for lang in c c++; do
        if [[ $lang == c ]]; then
            comp=$cc std=-std=c11
        else
            comp=$cxx std=-std=c++17
        fi
        if ! command -v "$comp" >/dev/null; then
            fail "$h.$lang" "no $comp compiler (make deps installs it)"
            continue
        fi
        # (a declaration after it: a header of macros alone, as export.h,
        # would leave ISO C an empty translation unit)
        if out=$(printf '#include <%s>\ntypedef int headers_check_;\n' "$h" |
                 "$comp" $std -x "$lang" -Wall -Wextra -Werror -pedantic -I"$inc" \
                         -fsyntax-only - 2>&1); then
            ok "$h.$lang"
        else
            fail "$h.$lang" "$(head -n 5 <<<"$out")"
        fi
    done
done
exit $st
