"""relays-resources: Twisted Web's resource model on relays-http.

Build a tree of :class:`Resource` objects (``root.putChild(b"name", child)``, or
``getChild``), write ``render_GET``/``render_POST`` returning bytes, or return
:data:`NOT_DONE_YET` and ``request.write()``/``request.finish()`` later, and serve
it with ``Server(...) + Site(root)`` or ``relays serve --resource module:root``.
See ``docs/tutorial/coming-from-twisted.rst``.
"""

from ._encoding import EncoderFactory, EncodingResourceWrapper, GzipEncoderFactory
from ._proxy import DEFAULT_PROXY_TIMEOUT, HOP_BY_HOP_FIELDS, ReverseProxyResource
from ._request import (
    DEFAULT_CONTENT_TYPE,
    DEFAULT_HIGH_WATER,
    DEFAULT_LOW_WATER,
    ClientDisconnected,
    Producer,
    ResourceRequest,
)
from ._resource import (
    KNOWN_METHODS,
    NOT_DONE_YET,
    ErrorPage,
    File,
    ForbiddenResource,
    NameVirtualHost,
    NoResource,
    Redirect,
    Resource,
)
from ._site import PRIORITY, Site, find_resource
from ._wsgi import DEFAULT_WSGI_THREADS, WSGIResource

__all__ = [
    "DEFAULT_CONTENT_TYPE",
    "DEFAULT_HIGH_WATER",
    "DEFAULT_LOW_WATER",
    "DEFAULT_PROXY_TIMEOUT",
    "DEFAULT_WSGI_THREADS",
    "HOP_BY_HOP_FIELDS",
    "KNOWN_METHODS",
    "NOT_DONE_YET",
    "PRIORITY",
    "ClientDisconnected",
    "EncoderFactory",
    "EncodingResourceWrapper",
    "ErrorPage",
    "File",
    "ForbiddenResource",
    "GzipEncoderFactory",
    "NameVirtualHost",
    "NoResource",
    "Producer",
    "Redirect",
    "Resource",
    "ResourceRequest",
    "ReverseProxyResource",
    "Site",
    "WSGIResource",
    "find_resource",
]
