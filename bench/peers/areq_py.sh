#!/usr/bin/env bash
# areq_py.sh DIR - puts the walkthrough's areq.py (the program simul's areq
# is the C twin of) in DIR/areq.py for the benchmarks that run it beside
# their own clients (run-http.sh, run-crawl.sh): from its "# areq.py" line
# to its asyncio.run(...) call in ../shared/walkthrough (SIMUL_SHARED, else
# ../shared beside the source tree, or beside the main worktree for a
# git worktree). Exits 1 with a line on stderr when the walkthrough is not
# there (the caller skips the row).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
dir=$1
walk=
for d in "${SIMUL_SHARED:-}" "$PWD/../shared" "$(git rev-parse --path-format=absolute \
        --git-common-dir 2>/dev/null)/../../shared"; do
    [[ -n $d && -f $d/walkthrough/async-io-in-python.txt ]] || continue
    walk=$d/walkthrough/async-io-in-python.txt
    break
done
[[ -n $walk ]] || { echo "areq_py.sh: no ../shared/walkthrough" >&2; exit 1; }
mkdir -p "$dir"
sed -n '/^# areq.py$/,/^    asyncio.run(bulk_crawl_and_write/p' "$walk" |
    sed '1i #!/usr/bin/env python3' >"$dir/areq.py"
grep -q 'asyncio.run(bulk_crawl_and_write' "$dir/areq.py" ||
    { echo "areq_py.sh: no areq.py in $walk" >&2; exit 1; }
