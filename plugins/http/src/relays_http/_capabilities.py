"""Which optional capabilities a connection has (``drain``, ``sendfile``), asked once per class.

relays.transports names them as runtime-checkable protocols (:class:`SupportsDrain`,
:class:`SupportsSendfile`). ``isinstance()`` against such a protocol looks up its
members again on every call: about 100 us for a "no" on Python 3.11, too slow for a
request's path. A connection's capabilities are its class's, so the answer is kept
per class; classes are few, so the caches stay small.
"""

from __future__ import annotations

from typing import TypeGuard

from relays.transports import SupportsDrain, SupportsSendfile

__all__ = ["supports_drain", "supports_sendfile"]

# Connection class -> whether its instances have the capability.
_DRAIN: dict[type, bool] = {}
_SENDFILE: dict[type, bool] = {}


def supports_drain(sock: object) -> TypeGuard[SupportsDrain]:
    """Whether *sock* can wait for its output to drain (:class:`SupportsDrain`)."""
    known = _DRAIN.get(type(sock))
    if known is None:
        known = _DRAIN[type(sock)] = isinstance(sock, SupportsDrain)
    return known


def supports_sendfile(sock: object) -> TypeGuard[SupportsSendfile]:
    """Whether *sock* can send part of a file itself (:class:`SupportsSendfile`)."""
    known = _SENDFILE.get(type(sock))
    if known is None:
        known = _SENDFILE[type(sock)] = isinstance(sock, SupportsSendfile)
    return known
