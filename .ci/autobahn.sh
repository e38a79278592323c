#!/usr/bin/env bash
# The Autobahn TestSuite against relays-websocket: `wstest -m fuzzingclient` against the
# relays server and `wstest -m fuzzingserver` against the relays client, in parallel shards
# (tests/plugins/websocket/autobahn/run.py says how). Prints the summary table of the
# reports; fails when any case FAILED, closed UNCLEAN or has no result.
#
# By default (CI): cases 1.* to 10.* and a fixed subset of 12.*/13.* (permessage-deflate);
# --full runs every case (about five times the CPU). Other options: --mode server|client,
# --cases 9.4.1 12.1.*, --shards N, --keep DIR (keeps the HTML reports and logs).
#
# autobahntestsuite runs only on Python 2.7: it is installed with pyenv's 2.7.18 into
# $AUTOBAHN_DIR (default ~/.cache/relays-autobahn) on first use. Needs the workspace's
# .venv (python3 dev.py makes it).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
AUTOBAHN_DIR="${AUTOBAHN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/relays-autobahn}"
PY2="${PY2:-$(pyenv root)/versions/2.7.18/bin/python2.7}"
PY3="$ROOT/.venv/bin/python"

if [ ! -d "$AUTOBAHN_DIR/site/autobahntestsuite" ]; then
    echo "autobahn.sh: installing autobahntestsuite for Python 2.7 into $AUTOBAHN_DIR"
    "$PY2" -m pip install --quiet --disable-pip-version-check --target "$AUTOBAHN_DIR/site" \
        autobahntestsuite
fi

exec "$PY3" "$ROOT/tests/plugins/websocket/autobahn/run.py" \
    --python2 "$PY2" --site "$AUTOBAHN_DIR/site" "$@"
