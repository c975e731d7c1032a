#!/usr/bin/env bash
# fuzz.sh - builds the libFuzzer targets (clang, ASan+UBSan) into
# build-fuzz/ and runs each for SECONDS (default $FUZZ_SECONDS, else 300),
# starting from seeds made from the test data (fuzz/seeds.py) and the corpus
# kept in build-fuzz/corpus-NAME by earlier runs. One line per target:
# "ok NAME: N runs" or "FAIL NAME: why" (the crash input is kept as
# build-fuzz/crash-NAME-*). Exits 1 if any failed.
#   scripts/fuzz.sh [SECONDS]          make fuzz; make test runs it briefly
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
secs=${1:-${FUZZ_SECONDS:-300}}
out=build-fuzz
cc=${FUZZ_CC:-clang}
mkdir -p "$out"
st=0
flags=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
       -D_GNU_SOURCE -Iinclude -Isrc/http)
libs=(-lidn2 -lunistring -lhiredis)

if ! command -v "$cc" >/dev/null; then
    echo "FAIL fuzz: no $cc (make deps installs clang)"
    exit 1
fi
[[ -d $out/seed-url && -d $out/seed-text && -d $out/seed-robots ]] || python3 fuzz/seeds.py "$out" >/dev/null 2>&1 ||
    echo "fuzz: no seeds (fuzz/seeds.py failed); starting empty" >&2

declare -A srcs=(
    [url_fuzz]="fuzz/url_fuzz.c src/http/url.c"
    [links_fuzz]="fuzz/links_fuzz.c src/http/links.c src/http/url.c"
    [text_fuzz]="fuzz/text_fuzz.c src/http/text.c src/core/buf.c"
    [robots_fuzz]="fuzz/robots_fuzz.c src/http/robots.c src/http/url.c src/core/buf.c"
    [redis_fuzz]="fuzz/redis_fuzz.c src/redis/url.c src/redis/reply.c src/core/error.c"
)
# A target is built again only when its command line or a file it is made
# of (its sources and the headers they include: cc -MM) changed since: make
# test runs the targets briefly, and building all five took longer than
# running them.
fresh() { # target command-line
    local t=$1 f deps
    [[ -x $out/$t && -f $out/$t.cmd && $(cat "$out/$t.cmd") == "$2" ]] || return 1
    # shellcheck disable=SC2086
    deps=$("$cc" -MM -D_GNU_SOURCE -Iinclude -Isrc/http ${srcs[$t]} 2>/dev/null) || return 1
    for f in ${deps//\\/}; do
        [[ $f == *: || $f -ot $out/$t ]] || return 1
    done
}
for t in url_fuzz links_fuzz text_fuzz robots_fuzz redis_fuzz; do
    name=${t%_fuzz}
    cmd="$("$cc" --version | head -n 1) ${flags[*]} ${srcs[$t]} ${libs[*]}"
    if ! fresh "$t" "$cmd"; then
        rm -f "$out/$t.cmd"
        # shellcheck disable=SC2086
        if ! "$cc" "${flags[@]}" ${srcs[$t]} "${libs[@]}" -o "$out/$t" 2>"$out/$t.build.log"; then
            echo "FAIL $t: build"
            tail -n 20 "$out/$t.build.log"
            st=1
            continue
        fi
        echo "$cmd" >"$out/$t.cmd"
    fi
    mkdir -p "$out/corpus-$name" "$out/seed-$name"
    ASAN_OPTIONS=detect_leaks=1 "$out/$t" -max_total_time="$secs" -timeout=10 \
        -rss_limit_mb=2048 -max_len=20000 -print_final_stats=1 \
        -artifact_prefix="$out/crash-$name-" "$out/corpus-$name" "$out/seed-$name" \
        >"$out/$t.log" 2>&1
    rc=$?
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out/$t.log" | grep -o '[0-9]*$')
    if [[ $rc -eq 0 ]]; then
        echo "ok $t: ${runs:-?} runs in ${secs}s"
    else
        echo "FAIL $t: exit $rc (see $out/$t.log; input in $out/crash-$name-*)"
        grep -E 'ERROR|SUMMARY|runtime error|deadly signal' "$out/$t.log" | head -n 5
        st=1
    fi
done
exit $st
