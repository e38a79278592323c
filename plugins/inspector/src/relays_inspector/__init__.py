"""relays-inspector: a live, read-only view of a running relays app in the browser.

``Server(8000) + Root() + Inspector()`` (or ``relays serve app:Root --inspect``)
serves a page at ``/_relays/`` showing the component tree as a picture, the handler
table of a clicked component and the live event stream, with filters, pausing and
errors with their tracebacks. Only local peers holding the random token printed at
start get in. See ``docs/howto/inspector.rst``.
"""

from ._access import DEFAULT_ALLOW, TOKEN_BYTES, Access, Verdict, new_token
from ._inspector import COOKIE_NAME, DEFAULT_PATH, Inspector
from ._stream import StreamLimits
from ._tree import GRAPHVIZ_TIMEOUT

__all__ = [
    "COOKIE_NAME",
    "DEFAULT_ALLOW",
    "DEFAULT_PATH",
    "GRAPHVIZ_TIMEOUT",
    "TOKEN_BYTES",
    "Access",
    "Inspector",
    "StreamLimits",
    "Verdict",
    "new_token",
]
