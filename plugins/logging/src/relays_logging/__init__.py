"""relays-logging: access and error logs for relays HTTP servers.

:class:`AccessLog` writes one line per response (Apache combined plus the duration,
or JSON), :class:`ErrorLog` logs unhandled exceptions and rate-limited bad
requests, :func:`debug_to_logger` routes the kernel's Debugger to a logger. All of
it goes through the stdlib :mod:`logging` module, so handlers, rotation and levels
are the operator's choice. See ``docs/howto/logging.rst``.
"""

from ._access import AccessLog
from ._debug import debug_to_logger
from ._errors import ErrorLog
from ._formats import AccessRecord, escape, format_combined, format_json
from ._proxies import TrustedProxies
from ._ratelimit import TokenBucket

__all__ = [
    "AccessLog",
    "AccessRecord",
    "ErrorLog",
    "TokenBucket",
    "TrustedProxies",
    "debug_to_logger",
    "escape",
    "format_combined",
    "format_json",
]
