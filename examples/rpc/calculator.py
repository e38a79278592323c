"""A calculator served with JSON-RPC 2.0: over HTTP, and over TCP one document per line.

Any component on the RPC channel (``"rpc"``) serves its public methods; a function can
be registered by name as well. Run it and call it::

    $ python examples/rpc/calculator.py
    $ curl -s -H 'Content-Type: application/json' \\
        -d '{"jsonrpc": "2.0", "method": "add", "params": [1, 2], "id": 1}' \\
        http://127.0.0.1:8000/jsonrpc
    {"jsonrpc":"2.0","result":3,"id":1}
    $ printf '{"jsonrpc":"2.0","method":"add","params":[1,2],"id":1}\\n' | nc -N 127.0.0.1 4000
    {"jsonrpc":"2.0","result":3,"id":1}

Two addresses on the command line (HTTP, then lines) change where it listens. Ctrl+C or
SIGTERM stop it gracefully.
"""

import sys

from relays import Component, find_protocol, find_transport
from relays_http import Server
from relays_jsonrpc import JSONRPC, JSONRPCError


class Calculator(Component):
    channel = "rpc"  # the RPC channel: every public method is an RPC method

    def add(self, a: float, b: float) -> float:
        return a + b

    async def divide(self, a: float, b: float) -> float:
        if b == 0:
            raise JSONRPCError(1001, "division by zero", {"dividend": a})
        return a / b


rpc = JSONRPC("/jsonrpc")


@rpc.register_function(name="math.mul")
def multiply(a: float, b: float) -> float:
    return a * b


def over_lines(address: str) -> Component:
    """The same methods over TCP, one JSON document per line."""
    server = find_transport("tcp").server(address, channel="rpc-tcp")
    return server + find_protocol("jsonrpc")(channel="rpc-tcp")


if __name__ == "__main__":
    http_bind = sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:8000"
    lines_bind = sys.argv[2] if len(sys.argv) > 2 else "tcp://127.0.0.1:4000"
    app = Server(http_bind) + rpc + Calculator()
    app += over_lines(lines_bind)
    app.run()
