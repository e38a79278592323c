"""relays-logging: access and error logs for relays HTTP servers.

:class:`AccessLog` writes one line per response (Apache combined plus the duration,
or JSON), :class:`ErrorLog` logs unhandled exceptions (repeats counted, not
written) and rate-limited bad requests, :class:`RepeatFilter` limits any
handler's repeated warnings and errors, :func:`debug_to_logger` routes the
kernel's Debugger to a logger. All of it goes through the stdlib :mod:`logging`
module, so handlers, rotation and levels are the operator's choice. Proxy headers
are relays-http's business: register a :class:`relays_http.TrustedProxies` and the
access log shows the client it found. See ``docs/howto/logging.rst``.
"""

from ._access import AccessLog
from ._debug import debug_to_logger
from ._errors import ErrorLog
from ._formats import AccessRecord, escape, format_combined, format_json
from ._ratelimit import RepeatFilter, RepeatLimiter, TokenBucket, Verdict

__all__ = [
    "AccessLog",
    "AccessRecord",
    "ErrorLog",
    "RepeatFilter",
    "RepeatLimiter",
    "TokenBucket",
    "Verdict",
    "debug_to_logger",
    "escape",
    "format_combined",
    "format_json",
]
