# proc.sh - process and port helpers for the test scripts, sourced
# (tests/http/nginx.sh, tests/crawl/site.sh and lib.sh,
# tests/redis/redisserver.sh).
# shellcheck shell=bash

# A process that exists and is not a zombie. `kill -0` succeeds on a
# zombie, and a daemon (nginx, redis-server) or a process whose parent
# script has exited is reaped by init - late on some machines (this one's
# init reaps every second or so): waiting with `kill -0` for one that was
# killed waits for init, not for the process.
alive() { # pid
    local st
    st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ -n $st && ${st%% *} != Z ]]
}

# Waits until pid is gone (or a zombie), polling every 10 ms, for at most
# `tries` polls (default 100); 0 if it went, 1 if it is still there.
wait_gone() { # pid [tries]
    local i
    for ((i = 0; i < ${2:-100}; i++)); do
        alive "$1" || return 0
        sleep 0.01
    done
    ! alive "$1"
}

# N distinct ports the kernel just gave out on 127.0.0.1, on one line
# (bound together, then released: one can be taken again before the
# caller binds it, so callers retry on "Address already in use"). One
# python3 for all N: its start is most of the cost.
free_ports() { # n
    /usr/bin/python3 -c 'import socket, sys
s = [socket.socket() for _ in range(int(sys.argv[1]))]
for x in s: x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))' "$1"
}
