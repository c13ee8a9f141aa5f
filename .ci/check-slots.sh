#!/usr/bin/env bash
# check-slots.sh — idle and slowloris connections cannot lock clients out.
#
# Runs `rafid run` (default limits: 1024 connection slots) on 127.0.0.1 and a
# python3 asyncio attacker that keeps 1600 connections open without sending a
# byte and 200 slowloris connections that send a request head one byte a
# second, reopening each one the server closes. Throughout, a fresh client
# must get /healthz 200 within 1 s and /feed.atom 200 within 2 s
# (curl --max-time). The attack must really fill the slots: the daemon is
# seen holding at least 1024 connections at some point.
#
# usage: .ci/check-slots.sh        (needs target/release/rafid; RAFID=path overrides)
# env:   DURATION=seconds of attack (default 25), KEEP=1 keeps the work directory.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ci_init check-slots
DURATION="${DURATION:-25}"
ci_need_rafid

# 1800 sockets on each side, plus what the daemon and python hold anyway.
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 4096 ]; then
    die 2 "cannot raise the open files limit to 4096 (got $(ulimit -n))"
fi

ci_workdir

cat > "$WORK/rafid.toml" <<TOML
[server]
listen = "127.0.0.1:0"

[storage]
path = "$WORK/data"

[output]
title = "slots"
TOML

start_daemon "$WORK/rafid.toml" "$WORK/rafid.log"
RAFID_PID="$DAEMON_PID"
PORT="${LISTEN##*:}"
BASE="http://$LISTEN"
wait_url "$BASE/healthz" || { cat "$WORK/rafid.log"; die 1 "daemon not up"; }

cat > "$WORK/attack.py" <<'PY'
import asyncio, os, sys

host, port, idle, slow, duration = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
opened = 0
closed = 0

async def idle_conn():
    global opened, closed
    while True:
        try:
            r, w = await asyncio.open_connection(host, port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        opened += 1
        await r.read()  # until the server closes it
        closed += 1
        w.close()

async def slowloris():
    global opened, closed
    head = b"GET /feed.atom HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 10000
    while True:
        try:
            r, w = await asyncio.open_connection(host, port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        opened += 1
        try:
            for b in head:
                w.write(bytes([b]))
                await w.drain()
                try:
                    await asyncio.wait_for(r.read(1), 1.0)
                    break  # closed (or, wrongly, answered)
                except asyncio.TimeoutError:
                    pass
        except OSError:
            pass
        closed += 1
        w.close()

async def main():
    tasks = [asyncio.create_task(idle_conn()) for _ in range(idle)]
    tasks += [asyncio.create_task(slowloris()) for _ in range(slow)]
    await asyncio.sleep(duration)
    print(f"attacker: {opened} connections opened, {closed} closed by the server", flush=True)
    # Cancelling 1800 tasks blocked on sockets is slow and pointless here.
    os._exit(0)

asyncio.run(main())
PY

# Far more connections than slots: the server closes a silent one after
# 5 s and, on a busy machine, a few hundred are always on their way back
# (closed, not yet reopened or accepted); 1300 was seen to fall short.
echo "== attack: 1600 idle + 200 slowloris connections for ${DURATION}s"
python3 "$WORK/attack.py" 127.0.0.1 "$PORT" 1600 200 "$((DURATION + 3))" > "$WORK/attack.log" 2>&1 &
ATTACK_PID=$!
ci_track "$ATTACK_PID"
sleep 2

probes=0
slow_health=0
slow_feed=0
max_fds=0
end=$((SECONDS + DURATION))
while [ "$SECONDS" -lt "$end" ]; do
    fds=$(ls "/proc/$RAFID_PID/fd" 2>/dev/null | wc -l)
    [ "$fds" -gt "$max_fds" ] && max_fds=$fds
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$BASE/healthz" || true)
    if [ "$code" != 200 ]; then
        slow_health=$((slow_health + 1))
        echo "  /healthz: got '$code' (or nothing within 1 s) at ${SECONDS}s"
    fi
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE/feed.atom" || true)
    if [ "$code" != 200 ]; then
        slow_feed=$((slow_feed + 1))
        echo "  /feed.atom: got '$code' (or nothing within 2 s) at ${SECONDS}s"
    fi
    probes=$((probes + 1))
    sleep 0.3
done
for _ in $(seq 100); do
    kill -0 "$ATTACK_PID" 2>/dev/null || break
    sleep 0.1
done
kill "$ATTACK_PID" 2>/dev/null || true
wait "$ATTACK_PID" 2>/dev/null || true
ATTACK_PID=""
cat "$WORK/attack.log"
echo "daemon held up to $max_fds file descriptors; $probes probes"

if [ "$max_fds" -ge 1024 ]; then
    pass "the attack filled every connection slot ($max_fds descriptors)"
else
    fail "the attack never filled the slots ($max_fds descriptors): nothing was checked"
fi
ci_check "/healthz answered 200 within 1 s in $((probes - slow_health)) of $probes probes" [ "$slow_health" = 0 ]
ci_check "/feed.atom answered 200 within 2 s in $((probes - slow_feed)) of $probes probes" [ "$slow_feed" = 0 ]
ci_check "the daemon is still running" kill -0 "$RAFID_PID"
ci_summary
