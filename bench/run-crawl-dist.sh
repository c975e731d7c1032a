#!/usr/bin/env bash
# run-crawl-dist.sh [BUILD] - the shared crawl's figures for docs/scale.md:
# the Python docs mirrored 10x (5,322 pages) from the private nginx, crawled
# by one single-process simul-crawl and then by 1, 2 and 4 workers through
# one redis-server (tests/redis/redisserver.sh: no persistence); prints
# pages/s, EVALSHA calls and Redis CPU (usec) per run, the commands run
# inside the scripts, Redis memory and network bytes, and the memory of a
# set of 1M 8-byte hashes. Servers stopped at the end.
set -uo pipefail
W=$(cd "$(dirname "$0")/.." && pwd); cd "$W" || exit 1
B=${1:-build}
tmp=$(mktemp -d)
trap 'tests/redis/redisserver.sh stop $tmp/r >/dev/null 2>&1; tests/http/nginx.sh stop $tmp/ng >/dev/null 2>&1; rm -rf $tmp' EXIT
mkdir $tmp/root; d=$(readlink -f /usr/share/doc/python3/html)
for i in $(seq 0 9); do ln -s $d $tmp/root/m$i; done
NGINX_GZIP=off tests/http/nginx.sh start $tmp/ng $tmp/root >/dev/null; source $tmp/ng/env; cd $W
tests/redis/redisserver.sh start $tmp/r >/dev/null; port=$(cat $tmp/r/port)
seeds=""; for i in $(seq 0 9); do seeds="$seeds $NGINX_URL/m$i/index.html"; done
s=$(date +%s.%N); $B/tools/simul-crawl -q -o $tmp/single -c 32 --per-host 32 --no-fsync $seeds; e=$(date +%s.%N)
np=$(wc -l < $tmp/single/pages.jsonl); echo "pages $np single-process $(echo "$np/($e-$s)" | bc) pages/s"
for n in 1 2 4; do
  redis-cli -p $port flushall >/dev/null; redis-cli -p $port config resetstat >/dev/null
  m0=$(redis-cli -p $port info memory | grep '^used_memory:' | tr -dc 0-9)
  s=$(date +%s.%N); for i in $(seq $n); do $B/tools/simul-crawl -q --redis redis://127.0.0.1:$port --job j -c $((32/n)) --per-host 32 $seeds & done; wait; e=$(date +%s.%N)
  m1=$(redis-cli -p $port info memory | grep '^used_memory:' | tr -dc 0-9)
  calls=$(redis-cli -p $port info commandstats | grep -v 'evalsha\|script\|config\|setname\|flushall' | sed -n 's/.*calls=\([0-9]*\),usec=\([0-9]*\).*/\1 \2/p' | awk '{c+=$1} END {print c}')
  ev=$(redis-cli -p $port info commandstats | grep evalsha | sed -n 's/.*calls=\([0-9]*\),usec=\([0-9]*\).*/\1 \2/p')
  net=$(redis-cli -p $port info stats | grep -E 'total_net_input_bytes|total_net_output_bytes' | tr -dc '0-9\n' | paste -sd' ')
  cpu=$(redis-cli -p $port info cpu | grep used_cpu_user: | tr -dc '0-9.')
  echo "workers=$n $(echo "$np/($e-$s)" | bc) pages/s; evalsha calls/usec: $ev; commands inside scripts: $calls; mem delta $((m1-m0)); net in/out $net"
  echo "  rec bytes: $(redis-cli -p $port memory usage 'simul-crawl:{j}:rec') found: $(redis-cli -p $port memory usage 'simul-crawl:{j}:found') seen: $(redis-cli -p $port memory usage 'simul-crawl:{j}:seen') scard $(redis-cli -p $port scard 'simul-crawl:{j}:seen')"
done
redis-cli -p $port flushall >/dev/null
m0=$(redis-cli -p $port info memory | grep '^used_memory:' | tr -dc 0-9)
redis-cli -p $port eval "for i=1,1000000 do redis.call('SADD', KEYS[1], struct.pack('<d', i * 1.000001)) end return 1" 1 s >/dev/null
m1=$(redis-cli -p $port info memory | grep '^used_memory:' | tr -dc 0-9)
echo "SET of 1M 8-byte members: $(( (m1-m0)/1000000 )) bytes/URL"
