#!/usr/bin/env bash
# The Autobahn TestSuite against relays-websocket: `wstest -m fuzzingclient` against the
# relays server and `wstest -m fuzzingserver` against the relays client, cases 1.* to 13.*.
# Fails when any case FAILED or closed UNCLEAN; prints the summary of both reports.
#
# autobahntestsuite runs only on Python 2.7: it is installed with pyenv's 2.7.18 into
# $AUTOBAHN_DIR (default ~/.cache/relays-autobahn) on first use. Needs the workspace's
# .venv (python3 dev.py makes it). Usage: .ci/autobahn.sh [server|client]  (default: both)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
AUTOBAHN_DIR="${AUTOBAHN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/relays-autobahn}"
PY2="${PY2:-$(pyenv root)/versions/2.7.18/bin/python2.7}"
PY3="$ROOT/.venv/bin/python"
HERE="$ROOT/tests/plugins/websocket/autobahn"
WORK="$(mktemp -d)"
PIDS=()  # servers: stopped when the script ends
WAITS=()  # test runs: waited for; stopped too if the script ends early

cleanup() {
    for pid in "${WAITS[@]}" "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${WAITS[@]}" "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

if [ ! -d "$AUTOBAHN_DIR/site/autobahntestsuite" ]; then
    echo "autobahn.sh: installing autobahntestsuite for Python 2.7 into $AUTOBAHN_DIR"
    "$PY2" -m pip install --quiet --disable-pip-version-check --target "$AUTOBAHN_DIR/site" \
        autobahntestsuite
fi

# wstest as a command (exec-able, so that the pid we keep is the process to stop).
WSTEST=("$PY2" -c "import site, sys; site.addsitedir('$AUTOBAHN_DIR/site'); \
sys.argv = ['wstest'] + sys.argv[1:]; from autobahntestsuite.wstest import run; run()")

free_port() {
    "$PY3" -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"
}

wait_port() {
    "$PY3" - "$1" <<'PY'
import socket, sys, time
deadline = time.monotonic() + 30
while True:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit("autobahn.sh: nothing listens on port " + sys.argv[1])
        time.sleep(0.2)
PY
}

# Cases 1.* to 13.*, in groups that run in parallel: wstest runs one group's cases one after
# another, and the long groups (9: large messages, 12 and 13: permessage-deflate) get their own.
GROUPS_OF_CASES=('["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "8.*", "10.*", "11.*"]'
    '["9.*"]' '["12.1.*", "12.2.*", "12.3.*"]' '["12.4.*", "12.5.*"]'
    '["13.1.*", "13.2.*", "13.3.*", "13.4.*"]' '["13.5.*", "13.6.*", "13.7.*"]')
REPORTS=()

start_server_mode() {
    # wstest tests one server sequentially: the long groups (9, 12, 13) get their own
    # wstest and their own relays server, so that they run in parallel.
    local index=0
    for cases in "${GROUPS_OF_CASES[@]}"; do
        index=$((index + 1))
        local port
        port="$(free_port)"
        "$PY3" "$HERE/echo_server.py" "$port" &
        PIDS+=($!)
        wait_port "$port"
        mkdir -p "$WORK/server$index"
        cat >"$WORK/server$index/spec.json" <<JSON
{"outdir": "$WORK/server$index/report", "servers": [{"agent": "relays", "url": "ws://127.0.0.1:$port"}],
 "cases": $cases, "exclude-cases": [], "exclude-agent-cases": {}}
JSON
        (cd "$WORK/server$index" && exec "${WSTEST[@]}" -m fuzzingclient -s spec.json >wstest.log 2>&1) &
        WAITS+=($!)
        REPORTS+=("$WORK/server$index/report/index.json")
    done
}

start_client_mode() {
    # One fuzzing server per group of cases, each with its own relays client, in parallel.
    local index=0
    for cases in "${GROUPS_OF_CASES[@]}"; do
        index=$((index + 1))
        local port dir="$WORK/client$index"
        port="$(free_port)"
        mkdir -p "$dir"
        cat >"$dir/spec.json" <<JSON
{"url": "ws://127.0.0.1:$port", "outdir": "$dir/report", "cases": $cases,
 "exclude-cases": [], "exclude-agent-cases": {}}
JSON
        (cd "$dir" && exec "${WSTEST[@]}" -m fuzzingserver -s spec.json --webport=0 >wstest.log 2>&1) &
        PIDS+=($!)
        wait_port "$port"
        "$PY3" "$HERE/echo_client.py" "ws://127.0.0.1:$port" 2>"$dir/client.log" &
        WAITS+=($!)
        REPORTS+=("$dir/report/index.json")
    done
}

MODE="${1:-both}"
start=$SECONDS
case "$MODE" in
    server) start_server_mode ;;
    client) start_client_mode ;;
    both) start_server_mode; start_client_mode ;;
    *) echo "usage: $0 [server|client]" >&2; exit 2 ;;
esac
for pid in "${WAITS[@]}"; do wait "$pid"; done
echo "autobahn.sh: $MODE mode(s) ran in $((SECONDS - start)) s"
"$PY3" "$HERE/check_report.py" "${REPORTS[@]}"
