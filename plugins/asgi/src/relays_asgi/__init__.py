"""relays-asgi: host ASGI applications (Starlette, FastAPI, Django) on relays-http.

``Server("tcp://127.0.0.1:8000") + Asgi(app)`` serves an ASGI 3 (or ASGI 2) app with
the ``http`` scope and the ``lifespan`` protocol; ``relays serve main:app`` does the
same from the command line. ``application(tree)`` turns a relays tree into an ASGI
app for uvicorn, hypercorn or granian. See ``docs/howto/asgi.rst``.
"""

from ._application import RelaysApplication, application
from ._dispatcher import Asgi
from ._errors import AsgiProtocolError, ClientDisconnected, LifespanFailed, NotAnAsgiApp
from ._limits import AsgiLimits
from ._shape import AsgiApp, asgi_version

__all__ = [
    "Asgi",
    "AsgiApp",
    "AsgiLimits",
    "AsgiProtocolError",
    "ClientDisconnected",
    "LifespanFailed",
    "NotAnAsgiApp",
    "RelaysApplication",
    "application",
    "asgi_version",
]
