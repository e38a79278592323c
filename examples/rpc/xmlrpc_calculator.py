"""A calculator served with XML-RPC at ``/RPC2``, with a fault of its own.

Run it, then call it with ``examples/rpc/xmlrpc_client.py`` or any XML-RPC client::

    $ python examples/rpc/xmlrpc_calculator.py
    $ python examples/rpc/xmlrpc_client.py
    5

An address on the command line (``tcp://127.0.0.1:8080``) changes where it listens.
Ctrl+C or SIGTERM stop it gracefully.
"""

import sys

from relays import Component, handler
from relays_http import Server
from relays_xmlrpc import XMLRPC, Fault


class Calculator(Component):
    channel = "rpc"

    @handler("math.add")
    def add(self, a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @handler("math.divide")
    async def divide(self, a: float, b: float) -> float:
        """Divide a by b."""
        if b == 0:
            raise Fault(4001, "division by zero")
        return a / b


if __name__ == "__main__":
    bind = sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:8000"
    app = Server(bind) + XMLRPC() + Calculator()  # at /RPC2
    app.run()
