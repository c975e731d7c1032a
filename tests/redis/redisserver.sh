#!/usr/bin/env bash
# redisserver.sh - a throwaway redis-server for the tests and benchmarks:
#   tests/redis/redisserver.sh start DIR [CPU]  a redis-server on a free
#                                    loopback port, its Unix socket at
#                                    DIR/redis.sock, its files in DIR, no
#                                    persistence; prints the port. CPU: pin
#                                    it there (taskset), for the benchmark
#   tests/redis/redisserver.sh stop DIR     stops it (SIGKILL) and removes DIR
#   tests/redis/redisserver.sh restart DIR  kills it and starts it again on
#                                    the same port and socket
# Users: `default` without a password (AUTH with any password is refused),
# and the ACL user `alice` (password "wonderland") who may only GET/SET
# keys under "alice:". Nothing depends on a system service.
# REDIS_APPENDFSYNC=always|everysec|no at start: persistence by an AOF in
# DIR instead (appendonly yes, that appendfsync), kept by restart.
set -euo pipefail
cmd=${1:?start|stop|restart} dir=${2:?directory} cpu=${3:-}
# shellcheck source=tests/proc.sh
source "$(dirname "${BASH_SOURCE[0]}")/../proc.sh"   # wait_gone

start_on() { # port
    local aof on=no
    aof=$(cat "$dir/appendfsync" 2>/dev/null || true)
    [[ -n $aof ]] && on=yes
    cat >"$dir/redis.conf" <<CONF
bind 127.0.0.1
port $1
unixsocket $dir/redis.sock
unixsocketperm 700
dir $dir
daemonize yes
pidfile $dir/redis.pid
logfile $dir/log
save ""
appendonly $on
${aof:+appendfsync $aof}
protected-mode no
user default on nopass ~* &* +@all
user alice on >wonderland ~alice:* +get +set +ping
CONF
    local pre=()
    [[ -n $cpu ]] && pre=(taskset -c "$cpu")
    "${pre[@]}" redis-server "$dir/redis.conf" >/dev/null 2>&1 || return 1
    for _ in $(seq 1 100); do
        redis-cli -p "$1" ping 2>/dev/null | grep -q PONG && return 0
        sleep 0.05
    done
    return 1
}

case $cmd in
start)
    mkdir -p "$dir"
    [[ -n ${REDIS_APPENDFSYNC:-} ]] && echo "$REDIS_APPENDFSYNC" >"$dir/appendfsync"
    for _ in 1 2 3 4 5 6 7 8; do
        port=$((20000 + RANDOM % 40000))
        if start_on "$port"; then
            echo "$port" >"$dir/port"
            echo "$port"
            exit 0
        fi
        [[ -f $dir/redis.pid ]] && kill -9 "$(cat "$dir/redis.pid")" 2>/dev/null || true
    done
    echo "redisserver: redis-server did not start: $(tail -n 5 "$dir/log" 2>/dev/null)" >&2
    exit 1
    ;;
restart)
    port=$(cat "$dir/port")
    pid=$(cat "$dir/redis.pid" 2>/dev/null || true)
    if [[ -n $pid ]]; then
        kill -9 "$pid" 2>/dev/null || true
        wait_gone "$pid" 1000 || true   # a zombie of init's is gone
    fi
    rm -f "$dir/redis.pid"
    for _ in $(seq 1 50); do start_on "$port" && exit 0; sleep 0.1; done
    exit 1
    ;;
stop)
    if [[ -f $dir/redis.pid ]]; then
        pid=$(cat "$dir/redis.pid")
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -rf "$dir"
    ;;
*)
    echo "usage: $0 start|stop|restart DIR [CPU]" >&2
    exit 2
    ;;
esac
