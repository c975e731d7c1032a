#!/usr/bin/env bash
# install.sh - the README's install path, as a user follows it: `make
# install PREFIX=<temp dir>`, then the README's first program built with
# `pkg-config --cflags --libs simul` (PKG_CONFIG_PATH naming the installed,
# multiarch pkgconfig directory) runs without LD_LIBRARY_PATH and prints what
# the README says; simul-crawl and its man page are installed and run; and
# pkg-config still answers with liburing's .pc hidden.
# One line per check: "ok NAME" / "FAIL NAME: why"; exit 1 if any failed.
#   tests/install.sh          (from anywhere; uses the repository's build/)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
st=0
ok()   { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; st=1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

if ! out=$(make -s install PREFIX="$prefix" 2>&1); then
    fail make-install "$(tail -n 5 <<<"$out")"
    exit 1
fi
ok make-install

pc=$(find "$prefix" -name simul.pc | head -n 1)
[[ -n $pc ]] || { fail simul.pc "not installed under $prefix"; exit 1; }
pcdir=$(dirname "$pc")
case $pcdir in
    "$prefix"/lib/*-linux-gnu*/pkgconfig | "$prefix"/lib*/pkgconfig) ok "pc-in-${pcdir#"$prefix"/}" ;;
    *) fail pc-dir "unexpected place $pcdir" ;;
esac

# The README's first program: its first ```c block.
awk '/^```c$/ { on = 1; next } on && /^```$/ { exit } on' README.md >"$tmp/first.c"
grep -q simul_run "$tmp/first.c" || fail readme-program "no first C program found in README.md"

export PKG_CONFIG_PATH=$pcdir
unset LD_LIBRARY_PATH
if flags=$(pkg-config --cflags --libs simul 2>&1) &&
   ${CC:-cc} -o "$tmp/first" "$tmp/first.c" $flags 2>"$tmp/cc.log"; then
    ok build-with-pkg-config
else
    fail build-with-pkg-config "$flags $(head -c 500 "$tmp/cc.log")"
fi
if [[ -x $tmp/first ]]; then
    got=$(timeout 10 "$tmp/first" 2>&1 | tr '\n' ' ')
    if [[ $got == "One One One Two Two Two " ]]; then
        ok runs-without-ld-library-path
    else
        fail runs-without-ld-library-path "printed: $got"
    fi
fi

# The tools: simul-crawl and its man page, runnable from the prefix.
crawl=$prefix/bin/simul-crawl
if [[ -x $crawl ]] && "$crawl" --version 2>&1 | grep -q '^simul-crawl '; then
    ok simul-crawl-installed-runs
else
    fail simul-crawl-installed-runs "$crawl: $("$crawl" --version 2>&1 | head -c 300)"
fi
if [[ -f $prefix/share/man/man1/simul-crawl.1 ]] &&
   man -l "$prefix/share/man/man1/simul-crawl.1" 2>/dev/null | grep -q 'EXIT STATUS'; then
    ok simul-crawl-man-page
else
    fail simul-crawl-man-page "no readable $prefix/share/man/man1/simul-crawl.1"
fi

# Only simul's own directory searched: liburing's .pc (and every other) is
# invisible, as on a machine without liburing-dev.
if PKG_CONFIG_LIBDIR=$pcdir PKG_CONFIG_PATH= pkg-config --cflags simul >/dev/null 2>"$tmp/pc.log" &&
   PKG_CONFIG_LIBDIR=$pcdir PKG_CONFIG_PATH= pkg-config --libs simul >/dev/null 2>>"$tmp/pc.log"; then
    ok pkg-config-without-liburing-pc
else
    fail pkg-config-without-liburing-pc "$(head -c 300 "$tmp/pc.log")"
fi
exit $st
