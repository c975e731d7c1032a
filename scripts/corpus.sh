#!/usr/bin/env bash
# corpus.sh - the local web the HTTP benchmarks, tests and `make run` crawl:
# Debian's Python documentation (python3-doc: 530 HTML pages) mirrored N
# times, so a client sees N x 530 distinct URLs on one server.
#
#   scripts/corpus.sh DIR [N]        DIR/m0 ... DIR/m(N-1) (default N=20), each
#                                    a symlink to the documentation's html/
#                                    directory, and DIR/index.html linking to
#                                    each mirror's index; prints DIR
#   scripts/corpus.sh urls BASE [N]  one URL per HTML page per mirror on
#                                    stdout, BASE/mI/PATH (10,600 for N=20),
#                                    mirror by mirror, pages sorted
#   scripts/corpus.sh pages          the pages' paths (relative, sorted)
#
# The source is SIMUL_CORPUS_SRC, else /usr/share/doc/python3/html with its
# symlinks resolved (../python3.11-doc/html on Debian 12). nginx serves
# through the symlinks (disable_symlinks is off by default).
set -euo pipefail

die() { echo "corpus.sh: $*" >&2; exit 1; }

src() {
    local s=${SIMUL_CORPUS_SRC:-/usr/share/doc/python3/html}
    s=$(readlink -f "$s") || die "cannot resolve $s"
    [[ -f $s/index.html ]] ||
        die "no documentation at $s (Debian package python3-doc: scripts/deps.sh run)"
    printf '%s\n' "$s"
}

pages() {
    local s
    s=$(src)
    (cd "$s" && find -L . -name '*.html' -type f | sed 's|^\./||' | LC_ALL=C sort)
}

count() { # N
    [[ $1 =~ ^[0-9]+$ ]] && (($1 >= 1 && $1 <= 10000)) || die "bad mirror count '$1'"
}

case ${1:-} in
urls)
    (($# >= 2)) || die "usage: corpus.sh urls BASE [N]"
    base=${2%/} n=${3:-20}
    count "$n"
    list=$(pages)
    for ((i = 0; i < n; i++)); do
        sed "s|^|$base/m$i/|" <<<"$list"
    done
    ;;
pages)
    pages
    ;;
"" | -h | --help)
    die "usage: corpus.sh DIR [N] | urls BASE [N] | pages"
    ;;
*)
    dir=$1 n=${2:-20}
    count "$n"
    s=$(src)
    mkdir -p "$dir"
    {
        echo '<!doctype html><html><head><meta charset="utf-8"><title>corpus</title></head><body>'
        for ((i = 0; i < n; i++)); do
            ln -sfn "$s" "$dir/m$i"
            echo "<p><a href=\"m$i/index.html\">mirror $i</a></p>"
        done
        echo '</body></html>'
    } >"$dir/index.html"
    printf '%s\n' "$dir"
    ;;
esac
