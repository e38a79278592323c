"""relays-inspector: a live, read-only view of a running relays app in the browser.

``Server(8000) + Root() + Inspector()`` (or ``relays serve app:Root --inspect``)
serves a page at ``/_relays/`` showing the component tree as a picture, the handler
table of a clicked component, the live event stream (with filters, pausing and
errors with their tracebacks) and live figures: event counts, handler time, queue
depth, open connections and requests per second. Only local peers holding the
random token printed at start get in. See ``docs/howto/inspector.rst``.
"""

from ._access import DEFAULT_ALLOW, TOKEN_BYTES, Access, Verdict, new_token
from ._figures import HISTOGRAM_BOUNDS, FigureLimits
from ._inspector import COOKIE_NAME, DEFAULT_PATH, Inspector
from ._stream import StreamLimits
from ._tree import GRAPHVIZ_TIMEOUT

__all__ = [
    "COOKIE_NAME",
    "DEFAULT_ALLOW",
    "DEFAULT_PATH",
    "GRAPHVIZ_TIMEOUT",
    "HISTOGRAM_BOUNDS",
    "TOKEN_BYTES",
    "Access",
    "FigureLimits",
    "Inspector",
    "StreamLimits",
    "Verdict",
    "new_token",
]
