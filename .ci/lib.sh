# .ci/lib.sh — what the check scripts share, sourced first by each of them:
#
#     source "$(dirname "$0")/lib.sh"
#     ci_init check-name          # proxies off, ROOT/SHARED/TOOLS/RAFID set
#     ci_need_rafid               # exit 2 without the release binary
#     ci_workdir                  # WORK, removed on exit (KEEP=1 keeps it)
#
# Everything the checks talk to is on 127.0.0.1, so any proxy in the
# environment is kept out of the way. Processes started in the background
# are registered with ci_track and stopped on exit, before the work
# directory goes; ci_on_exit adds a command to run then too (after the
# processes stop, so a mount they hold can be undone).
#
# Results: `pass WHAT` and `fail WHAT` count; `ci_check WHAT CMD...` runs CMD
# and counts it as one or the other; `ci_results FILE` counts the lines
# `RESULT PASS|FAIL what` a helper wrote; `ci_summary` prints the tally and
# exits 1 when anything failed.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARED="${SHARED:-$ROOT/../shared}"
TOOLS="$SHARED/tools"
RAFID="${RAFID:-$ROOT/target/release/rafid}"
CHECK="${CHECK:-$(basename "$0" .sh)}"
WORK=""
PIDS=()
ON_EXIT=()
FAILED=()
PASSED=0

# ci_init NAME: names the check in messages and keeps proxies away.
ci_init() {
    CHECK="$1"
    unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
    export no_proxy="127.0.0.1,localhost" NO_PROXY="127.0.0.1,localhost"
}

# die STATUS MESSAGE: the check cannot go on (2: could not run, 1: failed).
die() {
    local status="$1"; shift
    echo "$CHECK: $*" >&2
    exit "$status"
}

ci_need_rafid() {
    [ -x "$RAFID" ] || die 2 "$RAFID missing (cargo build --release)"
}

# ci_need_debs PACKAGE...: installs the Debian packages that are missing.
ci_need_debs() {
    local p missing=()
    for p in "$@"; do
        dpkg -s "$p" 2> /dev/null | grep -q '^Status: install ok installed' || missing+=("$p")
    done
    [ "${#missing[@]}" -gt 0 ] || return 0
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" > /dev/null
}

# ci_workdir: a fresh WORK under /tmp, cleaned up on exit.
ci_workdir() {
    WORK="$(mktemp -d "/tmp/rafid-$CHECK.XXXXXX")"
    trap ci_cleanup EXIT
    trap 'exit 130' INT TERM
}

ci_track() { PIDS+=("$@"); }
ci_on_exit() { ON_EXIT+=("$1"); }

# Stops what was started: SIGTERM, up to 5 s, then SIGKILL.
ci_stop() {
    local p live=() any _
    for p in "$@"; do
        [ -n "$p" ] && kill -0 "$p" 2> /dev/null && kill "$p" 2> /dev/null && live+=("$p")
    done
    for _ in $(seq 50); do
        any=0
        for p in "${live[@]}"; do kill -0 "$p" 2> /dev/null && any=1; done
        [ "$any" = 0 ] && break
        sleep 0.1
    done
    for p in "${live[@]}"; do
        kill -0 "$p" 2> /dev/null && kill -9 "$p" 2> /dev/null || true
        wait "$p" 2> /dev/null || true
    done
    return 0
}

ci_cleanup() {
    local c
    ci_stop "${PIDS[@]}"
    for c in "${ON_EXIT[@]}"; do eval "$c" || true; done
    [ -n "$WORK" ] || return 0
    if [ "${KEEP:-0}" = 1 ]; then echo "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_url URL [TENTHS]: until URL answers 2xx (default 10 s); 1 if never.
wait_url() {
    local _
    for _ in $(seq "${2:-100}"); do
        curl -fsS -o /dev/null --max-time 2 "$1" 2> /dev/null && return 0
        sleep 0.1
    done
    echo "$CHECK: $1 never answered" >&2
    return 1
}

# wait_line FILE SED-SCRIPT [PID]: the first output of `sed -n SCRIPT FILE`,
# in LINE, waiting up to 30 s (less if PID dies); 1 if none came.
wait_line() {
    local _
    LINE=""
    for _ in $(seq 300); do
        LINE="$(sed -n "$2" "$1" 2> /dev/null | head -1)"
        [ -n "$LINE" ] && return 0
        [ -n "${3:-}" ] && ! kill -0 "$3" 2> /dev/null && return 1
        sleep 0.1
    done
    return 1
}

# serve_corpus DIR [NAME]: ../shared/tools/serve-corpus on DIR, its base URL
# (with a final slash) in SERVED_URL; NAME names its logs in WORK.
serve_corpus() {
    local name="${2:-serve}" pid
    [ -x "$TOOLS/serve-corpus" ] || die 2 "$TOOLS/serve-corpus missing"
    "$TOOLS/serve-corpus" "$1" --port 0 > "$WORK/$name.out" 2> "$WORK/$name.log" &
    pid=$!
    ci_track "$pid"
    wait_line "$WORK/$name.out" 's#.*\(http://127\.0\.0\.1:[0-9]*/\).*#\1#p' "$pid" \
        || { cat "$WORK/$name.log" >&2; die 2 "serve-corpus did not start on $1"; }
    SERVED_URL="$LINE"
}

# serve_http DIR: python3's http.server on DIR, its base URL in SERVED_URL.
serve_http() {
    local port
    port="$(free_port)"
    python3 -m http.server "$port" --bind 127.0.0.1 --directory "$1" > /dev/null 2>&1 &
    ci_track $!
    SERVED_URL="http://127.0.0.1:$port/"
    wait_url "$SERVED_URL" || die 2 "http.server did not start on $1"
}

# start_daemon CONFIG LOG [PREFIX...]: `rafid run` in the background (behind
# PREFIX, `runuser -u USER --` say), its output in LOG; waits for its
# "serving" line and leaves the address it listens on in LISTEN
# ("127.0.0.1:PORT") and its pid in DAEMON_PID.
start_daemon() {
    local cfg="$1" log="$2"
    "${@:3}" "$RAFID" -c "$cfg" run > "$log" 2>&1 &
    DAEMON_PID=$!
    ci_track "$DAEMON_PID"
    wait_line "$log" 's/.*serving.*listen=\([0-9.:]*\).*/\1/p' "$DAEMON_PID" \
        || { tail -20 "$log" >&2; die 2 "the daemon did not start ($cfg)"; }
    LISTEN="$LINE"
}

pass() { echo "PASS: $*"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL: $*"; FAILED+=("$*"); }

# ci_check WHAT CMD...: CMD's exit status decides.
ci_check() {
    local what="$1"; shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}

# ci_results FILE: counts the `RESULT PASS|FAIL what` lines of FILE and
# prints the others; a file with no result at all is a failure.
ci_results() {
    local line n=0
    grep -v '^RESULT ' "$1" || true
    while IFS= read -r line; do
        n=$((n + 1))
        case "$line" in
            "RESULT PASS "*) pass "${line#RESULT PASS }" ;;
            *) fail "${line#RESULT FAIL }" ;;
        esac
    done < <(grep '^RESULT ' "$1" || true)
    [ "$n" -gt 0 ] || fail "no results in $1"
}

ci_summary() {
    echo
    echo "$CHECK: $PASSED checks passed, ${#FAILED[@]} failed"
    if [ "${#FAILED[@]}" -gt 0 ]; then
        printf '  failed: %s\n' "${FAILED[@]}"
        exit 1
    fi
}
