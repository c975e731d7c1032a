#!/usr/bin/env bash
# deps.sh - the Debian packages simul needs, installed idempotently: only the
# ones missing, apt-get update only if something is, and always saying what
# it installs. The Makefile's jobs that run things (make run, test, bench)
# call it; a plain `make` only checks (--check) and names `make deps`.
#   scripts/deps.sh [--check] [build|test|bench]
#     build   compiler, meson, ninja, liburing, libidn2, libcurl (what `make` needs)
#     run     build + nginx and the corpus it serves (`make run`)
#     test    build + valgrind, g++ (headers compiled as C++), the servers the
#             tests start (nginx, PostgreSQL) and the Python peers; the default
#     bench   build + the benchmark peers (Go, Python asyncio/uvloop/aiohttp,
#             libuv, wrk, curl, nginx, PostgreSQL with asyncpg and psycopg)
#   --check   install nothing: list what is missing and exit 1 if anything is
set -euo pipefail

check=0
if [[ "${1:-}" == --check ]]; then
    check=1
    shift
fi
what=${1:-test}

# libidn2-dev, libunistring-dev: URLs (IDNA hosts; NFKC for Python's urljoin).
# libcurl4-openssl-dev: the HTTP client; libpq-dev: the PostgreSQL client;
# libhiredis-dev: the Redis client (its reply parser);
# zlib1g-dev: the HTTP tests' fault server (its gzip bomb); libsqlite3-dev:
# simul-crawl's resume state.
pkgs=(gcc libc6-dev make meson ninja-build pkg-config liburing-dev libidn2-dev
      libunistring-dev libcurl4-openssl-dev libpq-dev libhiredis-dev zlib1g-dev libsqlite3-dev)
# nginx serves python3-doc's HTML pages (the corpus areq and the crawler fetch).
run_pkgs=(nginx python3-doc python3)
case $what in
    build) ;;
    run)   pkgs+=("${run_pkgs[@]}") ;;
    # python3-html5lib, python3-doc: the link extractor's reference and pages;
    # clang, libclang-rt-14-dev: the libFuzzer targets (scripts/fuzz.sh).
    # nginx, openssl, curl: the HTTP tests' servers, CA and reference client;
    # python3-aiohttp, python3-aiofiles: the walkthrough's areq.py, run beside
    # its C twin; postgresql: the server the PostgreSQL tests initdb;
    # redis-server: the server the Redis tests start.
    # python3-networkx: simul-crawl's graph.tsv is checked with it.
    test)  pkgs+=(valgrind g++ python3 python3-html5lib python3-doc clang
                  libclang-rt-14-dev "${run_pkgs[@]}" openssl curl python3-aiohttp
                  python3-aiofiles postgresql redis-server python3-networkx) ;;
    # time: /usr/bin/time for the HTTP clients' CPU and peak RSS; postgresql,
    # python3-asyncpg, python3-psycopg: bench/run-pg.sh's server and peers;
    # wget2, python3-scrapy, python3-html5lib: bench/run-crawl.sh's peers and truth;
    # redis-server (and its redis-benchmark, in redis-tools), python3-redis,
    # python3-aioredis: bench/run-redis.sh's server and peers.
    bench) pkgs+=(golang-go python3 python3-uvloop python3-aiofiles libuv1-dev wrk
                  python3-matplotlib "${run_pkgs[@]}" curl python3-aiohttp time postgresql
                  python3-asyncpg python3-psycopg wget2 python3-scrapy python3-html5lib
                  redis-server redis-tools python3-redis python3-aioredis) ;;
    *)     echo "usage: $0 [--check] [build|run|test|bench]" >&2; exit 2 ;;
esac

if ! command -v dpkg-query >/dev/null; then
    echo "deps: not a Debian system; make sure these (Debian names) are installed: ${pkgs[*]}" >&2
    exit 0
fi

missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $check -eq 1 ]]; then
    echo "deps: missing Debian packages: ${missing[*]}" >&2
    echo "deps: run \`make deps\` to install them (make run, make test and make bench install them themselves)" >&2
    exit 1
fi

echo "deps: installing ${missing[*]}" >&2
sudo=""
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "deps: need root or sudo to install ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: installed ${missing[*]}" >&2
