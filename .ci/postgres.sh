#!/usr/bin/env bash
# .ci/postgres.sh start DIR | stop DIR — a throwaway PostgreSQL cluster for
# the tests that need one (RAFID_TEST_POSTGRES).
#
# start: installs the server from Debian when it is missing, makes a cluster
# in DIR owned by the postgres user (the server refuses to run as root),
# starts it on a free loopback port with its socket in DIR, creates the
# database `rafid`, and prints its URL on stdout. Nothing outside DIR is
# written but the package. stop: stops the cluster; DIR can then go.
set -euo pipefail

cmd="${1:?usage: postgres.sh start|stop DIR}"
dir="${2:?usage: postgres.sh start|stop DIR}"

bin_dir() {
    local d
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] && { echo "$d"; return 0; }
    done
    return 1
}

as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
start)
    if ! bin="$(bin_dir)"; then
        echo "installing: postgresql" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq --no-install-recommends postgresql >&2
        bin="$(bin_dir)"
    fi
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    as_pg "$bin/initdb" -D "$dir/data" -U rafid --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" start >&2 \
        || { cat "$dir/server.log" >&2; exit 1; }
    as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U rafid rafid >&2
    echo "postgres://rafid@127.0.0.1:$port/rafid"
    ;;
stop)
    bin="$(bin_dir)"
    as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
    ;;
*)
    echo "usage: postgres.sh start|stop DIR" >&2
    exit 2
    ;;
esac
