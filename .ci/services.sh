#!/usr/bin/env bash
# Start or stop the brokers relays-bridge is tested and benchmarked against, on loopback,
# on fixed ports, without persistence; each is stopped by the PID it was started with.
#
#   bash .ci/services.sh start    # redis-server on 127.0.0.1:16379, nats-server -js on 14222
#   bash .ci/services.sh stop
#   bash .ci/services.sh status
#
# The bridge tests start servers of their own on free ports (they kill and restart them);
# these fixed ones are for the examples, the benchmark and manual runs:
#   RELAYS_TEST_REDIS=redis://127.0.0.1:16379/0  RELAYS_TEST_NATS=nats://127.0.0.1:14222
# Needs the Debian packages redis-server and nats-server (.ci/run installs them); a missing
# program is a warning, not a failure: the tests that need it skip and say so.
set -euo pipefail

REDIS_PORT="${RELAYS_REDIS_PORT:-16379}"
NATS_PORT="${RELAYS_NATS_PORT:-14222}"
STATE_DIR="${RELAYS_SERVICES_DIR:-${TMPDIR:-/tmp}/relays-services}"

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_port() {
    local port="$1" tries=0
    until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        tries=$((tries + 1))
        if [ "$tries" -gt 200 ]; then
            echo "services: nothing answers on 127.0.0.1:$port" >&2
            return 1
        fi
        sleep 0.05
    done
}

start_one() {
    local name="$1" port="$2"
    shift 2
    local pidfile="$STATE_DIR/$name.pid"
    if pid_alive "$pidfile"; then
        echo "services: $name already runs (pid $(cat "$pidfile"))"
        return 0
    fi
    if ! command -v "$1" >/dev/null 2>&1; then
        echo "services: warning: $1 is not installed (apt-get install $name)" >&2
        return 0
    fi
    "$@" >"$STATE_DIR/$name.log" 2>&1 &
    echo $! >"$pidfile"
    wait_port "$port"
    echo "services: $name on 127.0.0.1:$port (pid $(cat "$pidfile"))"
}

stop_one() {
    local name="$1" pidfile="$STATE_DIR/$1.pid"
    if pid_alive "$pidfile"; then
        local pid
        pid="$(cat "$pidfile")"
        kill "$pid"
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
        echo "services: stopped $name (pid $pid)"
    fi
    rm -f "$pidfile"
}

case "${1:-}" in
start)
    mkdir -p "$STATE_DIR/nats"
    start_one redis-server "$REDIS_PORT" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 \
        --save "" --appendonly no --dir "$STATE_DIR"
    start_one nats-server "$NATS_PORT" nats-server -a 127.0.0.1 -p "$NATS_PORT" -js \
        -sd "$STATE_DIR/nats"
    ;;
stop)
    stop_one nats-server
    stop_one redis-server
    ;;
status)
    for name in redis-server nats-server; do
        if pid_alive "$STATE_DIR/$name.pid"; then
            echo "$name: running (pid $(cat "$STATE_DIR/$name.pid"))"
        else
            echo "$name: stopped"
        fi
    done
    ;;
*)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
