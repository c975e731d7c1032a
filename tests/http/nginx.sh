#!/usr/bin/env bash
# nginx.sh - a private nginx for the HTTP tests, benchmarks and `make run`:
# Debian's /usr/sbin/nginx run as the current user with a configuration of
# its own (no system config, no system service), on free loopback ports,
# everything (config, pid, logs, temp paths, TLS keys) inside DIR.
#
#   tests/http/nginx.sh start DIR ROOT [CPU]   start it serving ROOT
#   tests/http/nginx.sh stop DIR               stop it (waits; kills if needed)
#
# start writes DIR/env, shell assignments a caller sources (and prints them):
#   NGINX_PORT        plain HTTP/1.1 on 127.0.0.1 and 127.0.0.2
#   NGINX_TLS_PORT    TLS with HTTP/2 (ALPN h2, http/1.1) on 127.0.0.1
#   NGINX_URL         http://127.0.0.1:$NGINX_PORT
#   NGINX_TLS_URL     https://localhost:$NGINX_TLS_PORT (the certificate
#                     names localhost, 127.0.0.1 and 127.0.0.2)
#   NGINX_CA          the CA certificate (PEM) that signed the server's: made
#                     by openssl once a day (make_certs), valid two days; pass it as the
#                     client's CA file (curl --cacert)
#   NGINX_PID         the master's pid
# CPU (optional) pins nginx to that CPU (taskset -c), for the benchmarks;
# NGINX_GZIP=off turns compression off (the benchmarks: every client then
# gets the same bytes whatever Accept-Encoding it sends).
#
# What it serves, on both ports: ROOT (symlinks followed), gzip on for
# text/html and other text types down to 32 bytes, keep-alive for 100000
# requests a connection, no access log, one worker. Fixed paths:
#   /redir        301 -> /index.html
#   /redir-loop   302 -> /redir-loop (a redirect loop)
#   /redir-a      302 -> /redir-b -> /redir-a (a two-step loop)
#   /404          404 (as any missing path)
#
# A caller sets a trap so nginx never outlives it:
#   trap 'tests/http/nginx.sh stop "$dir"' EXIT
# and a caller that may die without running it (a C test program that
# crashes) sets NGINX_WATCH_PID=its pid: a watchdog then stops nginx
# within a second of that process's end (and ends itself on stop).
set -uo pipefail

NGINX=${NGINX:-/usr/sbin/nginx}
PY=/usr/bin/python3
die() { echo "nginx.sh: $*" >&2; exit 1; }

# The CA and the server's certificate (valid two days) are made once a day
# per user into ${TMPDIR:-/tmp}/simul-nginx-certs-UID-DATE (made aside and
# renamed, so concurrent starts never see half of them) and copied into
# DIR: openssl three times took a quarter of a second of each start, and
# the tests start nginx dozens of times.
make_certs() { # dir
    local d=$1 c w
    [[ -s $d/server.pem && -s $d/ca.pem ]] && return 0
    c=${TMPDIR:-/tmp}/simul-nginx-certs-$(id -u)-$(date +%Y%m%d)
    if [[ ! -s $c/server.pem ]]; then
        w=$(mktemp -d "$c.XXXXXX") || return 1
        new_certs "$w" && mv -T "$w" "$c" 2>/dev/null   # another start may have won
        rm -rf "$w"
        find "${c%/*}" -maxdepth 1 -name "simul-nginx-certs-$(id -u)-*" -mmin +2880 \
            -exec rm -rf {} + 2>/dev/null
    fi
    cp "$c/ca.pem" "$c/ca.key" "$c/server.key" "$c/server.pem" "$d/"
}

new_certs() { # dir
    local d=$1 o=openssl
    # EC keys: generated in milliseconds.
    $o req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$d/ca.key" -out "$d/ca.pem" -days 2 -subj "/CN=simul test CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>"$d/openssl.log" &&
    $o req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$d/server.key" -out "$d/server.csr" -subj "/CN=localhost" \
        2>>"$d/openssl.log" &&
    printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature" \
        "extendedKeyUsage=serverAuth" \
        "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:127.0.0.2" >"$d/server.ext" &&
    $o x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
        -CAcreateserial -out "$d/server.pem" -days 2 -extfile "$d/server.ext" \
        2>>"$d/openssl.log" || { cat "$d/openssl.log" >&2; return 1; }
}

write_conf() { # dir root port tlsport
    local d=$1 root=$2 p=$3 tp=$4 user=""
    # As root, nginx's workers would switch to nobody, who cannot read DIR:
    # keep them as the current user.
    [[ $(id -u) -eq 0 ]] && user="user $(id -un) $(id -gn);"
    cat >"$d/nginx.conf" <<EOF
# Written by tests/http/nginx.sh; nothing here comes from /etc/nginx.
$user
worker_processes 1;
daemon on;
pid $d/nginx.pid;
error_log $d/error.log warn;
worker_rlimit_nofile 8192;
events { worker_connections 4096; }
http {
    types {
        text/html html htm;
        text/css css;
        text/plain txt;
        application/javascript js;
        application/json json;
        image/png png;
        image/svg+xml svg;
        application/pdf pdf;
    }
    default_type application/octet-stream;
    charset_types text/plain;
    access_log off;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    keepalive_timeout 65s;
    gzip ${NGINX_GZIP:-on};
    gzip_min_length 32;
    gzip_types text/plain text/css application/javascript application/json;
    server {
        listen 127.0.0.1:$p default_server;
        listen 127.0.0.2:$p default_server;
        include $d/site.conf;
    }
    server {
        listen 127.0.0.1:$tp ssl http2 default_server;
        ssl_certificate $d/server.pem;
        ssl_certificate_key $d/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        include $d/site.conf;
    }
}
EOF
    cat >"$d/site.conf" <<EOF
server_name localhost;
root $root;
index index.html;
location = /redir { return 301 /index.html; }
location = /redir-loop { return 302 /redir-loop; }
location = /redir-a { return 302 /redir-b; }
location = /redir-b { return 302 /redir-a; }
location = /404 { return 404; }
EOF
}

# alive PID, wait_gone PID [TRIES]: a process not a zombie (init reaps
# a stopped nginx late); free_ports N.
# shellcheck source=tests/proc.sh
source "$(dirname "${BASH_SOURCE[0]}")/../proc.sh"

start() { # dir root [cpu]
    local d=$1 root=$2 cpu=${3:-} p tp try pin=()
    [[ -x $NGINX ]] || die "no $NGINX (Debian package nginx: scripts/deps.sh test)"
    [[ -d $root ]] || die "no directory $root"
    mkdir -p "$d/tmp" || die "cannot create $d"
    d=$(cd "$d" && pwd) root=$(cd "$root" && pwd)
    [[ -n $cpu ]] && pin=(taskset -c "$cpu")
    make_certs "$d" || die "cannot make the TLS certificates"
    for try in 1 2 3 4 5 6 7 8 9 10; do
        read -r p tp < <(free_ports 2)
        write_conf "$d" "$root" "$p" "$tp"
        rm -f "$d/nginx.pid"
        : >"$d/error.log"
        # -e: the log of the start itself (before the config is read).
        if "${pin[@]}" "$NGINX" -p "$d" -c "$d/nginx.conf" -e "$d/error.log" \
                2>>"$d/error.log"; then
            for _ in $(seq 100); do
                [[ -s $d/nginx.pid ]] && break
                sleep 0.02
            done
            local pid
            pid=$(cat "$d/nginx.pid" 2>/dev/null)
            if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
                cat >"$d/env" <<EOF
NGINX_PORT=$p
NGINX_TLS_PORT=$tp
NGINX_URL=http://127.0.0.1:$p
NGINX_TLS_URL=https://localhost:$tp
NGINX_CA=$d/ca.pem
NGINX_PID=$pid
EOF
                cat "$d/env"
                if [[ -n ${NGINX_WATCH_PID:-} ]]; then
                    # Until the watched process ends or stop (or rm -rf)
                    # takes the pid file away; then this nginx goes.
                    (while alive "$NGINX_WATCH_PID" && [[ -s $d/nginx.pid ]]; do
                         sleep 0.5
                     done
                     stop_pid "$pid" "$d") </dev/null >/dev/null 2>&1 &
                    disown
                fi
                return 0
            fi
        fi
        # A port taken between free_port and nginx's bind: try others.
        grep -q "Address already in use" "$d/error.log" && continue
        cat "$d/error.log" >&2
        die "nginx did not start"
    done
    die "no free port pair after 10 tries"
}

# Stops the master pid of nginx DIR (if it is still that nginx): TERM,
# then KILL for it and its workers if it lingers.
stop_pid() { # pid dir
    local pid=$1 d=$2 kids
    [[ -n $pid ]] && alive "$pid" || return 0
    grep -qF -- "$d/nginx.conf" "/proc/$pid/cmdline" 2>/dev/null || return 0
    # The workers, in case the master has to be killed (they would stay).
    kids=$(pgrep -P "$pid" 2>/dev/null | tr '\n' ' ')
    kill -TERM "$pid" 2>/dev/null
    # gone or a zombie: its sockets are closed (init reaps it later)
    wait_gone "$pid" 300 || kill -KILL "$pid" $kids 2>/dev/null
    for k in $kids; do
        wait_gone "$k" 100 || kill -KILL "$k" 2>/dev/null
    done
    return 0
}

stop() { # dir
    local d
    d=$(cd "$1" 2>/dev/null && pwd) || return 0
    stop_pid "$(cat "$d/nginx.pid" 2>/dev/null)" "$d"
    rm -f "$d/nginx.pid"
    return 0
}

case ${1:-} in
start) (($# >= 3)) || die "usage: nginx.sh start DIR ROOT [CPU]"; start "$2" "$3" "${4:-}" ;;
stop)  (($# >= 2)) || die "usage: nginx.sh stop DIR"; stop "$2" ;;
*)     die "usage: nginx.sh start DIR ROOT [CPU] | stop DIR" ;;
esac
