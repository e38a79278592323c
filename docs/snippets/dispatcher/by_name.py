"""An application asks for the JSON-RPC dispatcher by name: no import of relays_jsonrpc."""

from relays import find_dispatcher
from relays_http import Server

JSONRPC = find_dispatcher("jsonrpc")  # PluginNotFound, naming the package, if not installed
app = Server("tcp://127.0.0.1:8000") + JSONRPC("/rpc")

if __name__ == "__main__":
    print(f"/rpc is served by {JSONRPC.__name__}, from {JSONRPC.__module__.split('.')[0]}")
