"""The address picks the transport: TLS and UNIX sockets serve the same app.

$ python examples/web/addresses.py tls://127.0.0.1:8443 cert.pem key.pem
$ python examples/web/addresses.py unix:///tmp/app.sock
"""

import sys

from hello_handler import Hello

from relays_http import Server


def tls_server(certfile: str, keyfile: str, bind: str = "tls://0.0.0.0:8443") -> Server:
    return Server(bind, certfile=certfile, keyfile=keyfile) + Hello()


def unix_server(bind: str = "unix:///run/app.sock") -> Server:
    return Server(bind) + Hello()


if __name__ == "__main__":
    if sys.argv[1].startswith("tls://"):
        tls_server(sys.argv[2], sys.argv[3], sys.argv[1]).run()
    else:
        unix_server(sys.argv[1]).run()
