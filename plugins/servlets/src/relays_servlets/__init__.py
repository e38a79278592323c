"""relays-servlets: Webware for Python's servlets on relays-http.

Put servlet files in a directory (``Welcome.py`` holding ``class Welcome(Page)``),
serve it with ``Server(...) + Servlets({"/": "./site"})`` or ``relays serve
--servlets ./site``, and each request runs Webware's life cycle (``awake``,
``respond``, ``sleep``) on a thread of the tree's pool. See
``docs/tutorial/coming-from-webware.rst``.
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
    DEFAULT_FLUSH_LIMIT,
    HeadersLocked,
    Page,
    Servlet,
    ServletRequest,
    ServletResponse,
    Transaction,
)

__all__ = [
    "DEFAULT_FLUSH_LIMIT",
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
