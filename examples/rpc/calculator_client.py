"""Call the calculator (``examples/rpc/calculator.py``) over HTTP from Python.

Any JSON-RPC 2.0 client works; this one builds and parses the messages with
jsonrpcclient (``pip install jsonrpcclient``) and posts them with the standard library::

    $ python examples/rpc/calculator_client.py
    3
"""

import sys
import urllib.request

from jsonrpcclient import parse_json, request_json


def add(url: str, a: float, b: float) -> object:
    call = urllib.request.Request(
        url,
        data=request_json("add", params=(a, b)).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(call) as reply:
        return parse_json(reply.read().decode()).result


if __name__ == "__main__":
    url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000/jsonrpc"
    print(add(url, 1, 2))
