"""Call the XML-RPC calculator (``examples/rpc/xmlrpc_calculator.py``) with the standard
library: one call, then two in one request with ``system.multicall``::

    $ python examples/rpc/xmlrpc_client.py
    5
    3 <Fault 4001: 'division by zero'>
"""

import sys
import xmlrpc.client


def call(url: str) -> None:
    with xmlrpc.client.ServerProxy(url) as server:
        print(server.math.add(2, 3))  # 5


def multicall(url: str) -> None:
    with xmlrpc.client.ServerProxy(url) as server:
        multi = xmlrpc.client.MultiCall(server)
        multi.math.add(1, 2)
        multi.math.divide(1, 0)
        results = multi()
        print(results[0], end=" ")
        try:
            results[1]  # reading a call that failed raises its fault
        except xmlrpc.client.Fault as fault:
            print(fault)


if __name__ == "__main__":
    url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000/RPC2"
    call(url)
    multicall(url)
