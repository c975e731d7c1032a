#!/usr/bin/env bash
# deps.sh - installs the Debian packages simul needs, idempotently: only the
# ones missing, and apt-get update only if something is. Every make target
# that needs packages calls it.
#   scripts/deps.sh            build + test packages
#   scripts/deps.sh bench      also the benchmark peers
set -euo pipefail

# g++: tests/headers.sh compiles every public header as C++ too.
pkgs=(gcc g++ libc6-dev make meson ninja-build pkg-config valgrind liburing-dev)
if [[ "${1:-}" == bench ]]; then
    pkgs+=(golang-go python3 python3-uvloop python3-aiofiles libuv1-dev wrk
           python3-matplotlib)
fi

missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=""
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "deps: need root or sudo to install ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
