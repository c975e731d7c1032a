#!/usr/bin/env bash
# pgserver.sh - a throwaway PostgreSQL 15 for the tests and benchmarks:
#   tests/pg/pgserver.sh start DIR [ssl]
#                                    initdb into DIR/data, start postgres on a
#                                    free loopback port with its Unix socket in
#                                    DIR; prints the port. With `ssl`, TLS is
#                                    on too (a throwaway self-signed P-256
#                                    certificate, DIR/data/server.crt)
#   tests/pg/pgserver.sh stop DIR    stops it (immediate) and removes DIR
#   tests/pg/pgserver.sh restart DIR stops it (fast) and starts it again on
#                                    the same port
# Nothing depends on a system service. initdb and postgres refuse to run as
# root, so as root (CI, this machine) they run as `nobody` (setpriv) in a
# directory handed to nobody. Authentication: trust, except the role
# `pw_user` (password "secret", scram-sha-256 over TCP), for the
# wrong-password case. Durability is off (fsync, synchronous_commit): tests.
set -euo pipefail
bin=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
cmd=${1:?start|stop|restart} dir=${2:?directory} ssl=${3:-}

as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"
    else
        "$@"
    fi
}

start_on() { # port
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 30 \
        -o "-p $1 -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=60 $(cat "$dir/options" 2>/dev/null)" \
        start >/dev/null 2>&1
}

case $cmd in
start)
    mkdir -p "$dir"
    [[ $(id -u) -eq 0 ]] && chown nobody:nogroup "$dir" && chmod 755 "$dir"
    # initdb once per machine and PostgreSQL build into a template (made
    # aside and renamed, so concurrent starts never see half of one); each
    # server gets a copy (initdb takes seconds, a copy a fraction of one)
    tmpl=${TMPDIR:-/tmp}/simul-pg-template-$(id -u)-$("$bin/postgres" -V | awk "{print \$3}")
    if [[ ! -f $tmpl/PG_VERSION ]]; then
        work=$(mktemp -d "$tmpl.XXXXXX")
        [[ $(id -u) -eq 0 ]] && chown nobody:nogroup "$work"
        as_owner "$bin/initdb" -D "$work/data" -U postgres --auth=trust -N -E UTF8 \
            --locale=C >"$dir/initdb.log" 2>&1 ||
            { echo "pgserver: initdb failed: $(tail -n 3 "$dir/initdb.log")" >&2; rm -rf "$work"; exit 1; }
        mv -T "$work/data" "$tmpl" 2>/dev/null || true   # another start may have won
        rm -rf "$work"
    fi
    cp -a "$tmpl" "$dir/data"
    if [[ $ssl == ssl ]]; then
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
            -subj /CN=127.0.0.1 -keyout "$dir/data/server.key" -out "$dir/data/server.crt" \
            >/dev/null 2>&1 || { echo "pgserver: openssl failed" >&2; exit 1; }
        chmod 600 "$dir/data/server.key"
        [[ $(id -u) -eq 0 ]] && chown nobody:nogroup "$dir/data/server.key" "$dir/data/server.crt"
        echo "-c ssl=on" >"$dir/options"
    fi
    # the password role first: pg_hba.conf takes the first matching line
    { echo "host all pw_user 127.0.0.1/32 scram-sha-256"
      echo "local all all trust"
      echo "host all all 127.0.0.1/32 trust"; } >"$dir/data/pg_hba.conf"
    for _ in 1 2 3 4 5 6 7 8; do
        port=$((20000 + RANDOM % 40000))
        if start_on "$port"; then
            echo "$port" >"$dir/port"
            as_owner "$bin/psql" -h "$dir" -p "$port" -U postgres -d postgres -qAt \
                -c "CREATE ROLE pw_user LOGIN PASSWORD 'secret' SUPERUSER" >/dev/null
            echo "$port"
            exit 0
        fi
    done
    echo "pgserver: postgres did not start: $(tail -n 5 "$dir/log" 2>/dev/null)" >&2
    exit 1
    ;;
restart)
    port=$(cat "$dir/port")
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    start_on "$port"
    ;;
stop)
    [[ -d $dir/data ]] && as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1
    rm -rf "$dir"
    ;;
*)
    echo "usage: $0 start|stop|restart DIR" >&2
    exit 2
    ;;
esac
