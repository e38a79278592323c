"""relays-servlets: Webware for Python's servlets on relays-http.

Put servlet files in a directory (``Welcome.py`` holding ``class Welcome(Page)``),
serve it with ``Server(...) + Servlets({"/": "./site"})`` or ``relays serve
--servlets ./site``, and each request runs Webware's life cycle (``awake``,
``respond``, ``sleep``) on a pool thread. See ``docs/tutorial/coming-from-webware.rst``.
"""

from ._application import (
    DEFAULT_QUEUE_LIMIT,
    DEFAULT_RETRY_AFTER,
    DEFAULT_THREADS,
    PRIORITY,
    ServletLoadError,
    Servlets,
)
from ._servlet import (
    HeadersLocked,
    Page,
    Servlet,
    ServletRequest,
    ServletResponse,
    Transaction,
)

__all__ = [
    "DEFAULT_QUEUE_LIMIT",
    "DEFAULT_RETRY_AFTER",
    "DEFAULT_THREADS",
    "PRIORITY",
    "HeadersLocked",
    "Page",
    "Servlet",
    "ServletLoadError",
    "ServletRequest",
    "ServletResponse",
    "Servlets",
    "Transaction",
]
