"""Reverse proxy: everything below ``/api`` is answered by another HTTP server.

``/api/users?page=2`` is asked of ``127.0.0.1:UPSTREAM_PORT`` as ``/v1/users?page=2``,
with the client's headers (less the hop-by-hop ones), ``Host`` set to the upstream and
the client's address added to ``X-Forwarded-For``. An upstream that is down answers
502; one silent for 10 seconds, 504.
"""

import os

from relays_resources import Resource, ReverseProxyResource

UPSTREAM_PORT = int(os.environ.get("UPSTREAM_PORT", "8081"))

root = Resource()
root.putChild(b"api", ReverseProxyResource("127.0.0.1", UPSTREAM_PORT, b"/v1", timeout=10.0))
