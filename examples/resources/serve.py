"""Serve one of this folder's resource trees: ``python3 serve.py dynamic [PORT]``.

Each example module builds ``root`` (and may add ``components``, such as sessions
or an access log, which go on the server next to the site).
"""

import importlib
import sys
from types import ModuleType

from relays_http import Server
from relays_resources import Site


def build(module: ModuleType, bind: str = "tcp://127.0.0.1:8000") -> Server:
    server = Server(bind)
    for component in getattr(module, "components", lambda: [])():
        server += component
    server += Site(module.root)
    return server


if __name__ == "__main__":
    name = sys.argv[1] if len(sys.argv) > 1 else "dynamic"
    port = sys.argv[2] if len(sys.argv) > 2 else "8000"
    sys.path.insert(0, __file__.rpartition("/")[0])
    build(importlib.import_module(name), f"tcp://127.0.0.1:{port}").run()
