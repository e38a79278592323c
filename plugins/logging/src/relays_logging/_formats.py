"""Turning one request and its response into one log line: combined or JSON.

Theory of operation
-------------------
Everything in an access line that the client chose (the request target, the
Referer and User-Agent fields, an ``X-Forwarded-For`` address) is untrusted text.
A line must stay *one* line that a parser can split, whatever the client sent, so
those values are escaped the way Apache's ``ap_escape_logitem`` does: printable
ASCII stays, ``"`` and ``\\`` get a backslash, ``\\n``, ``\\r``, ``\\t``, ``\\b``
and ``\\v`` get their C escapes, and every other byte (controls, DEL, anything
above 0x7F) becomes ``\\xhh``. Header values and the target are escaped as the
bytes that were received (the server decodes them as Latin-1, which maps each
byte to one character, so the bytes are recovered exactly).

JSON lines need no escaping of ours: :func:`json.dumps` with ``ensure_ascii``
escapes every control and non-ASCII character, so a JSON line is one line too.
Bytes that are not UTF-8 are shown as ``\\xhh`` inside the string.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import attrs

__all__ = ["AccessRecord", "escape", "format_combined", "format_json", "format_time"]

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_SPECIAL = {
    0x22: '\\"',
    0x5C: "\\\\",
    0x0A: "\\n",
    0x0D: "\\r",
    0x09: "\\t",
    0x08: "\\b",
    0x0B: "\\v",
}
_TABLE = tuple(
    _SPECIAL.get(byte, chr(byte) if 0x20 <= byte < 0x7F else f"\\x{byte:02x}")
    for byte in range(256)
)
_NEEDS_ESCAPE = re.compile(rb"[^\x20-\x21\x23-\x5b\x5d-\x7e]")


def escape(value: bytes | str) -> str:
    """*value* as Apache writes it into a log: one line, printable ASCII only.

    A ``str`` is taken as Latin-1 (how the server decodes what it received); a
    character above U+00FF, which no client could have sent, is encoded as UTF-8 first.
    """
    if isinstance(value, str):
        try:
            data = value.encode("latin-1")
        except UnicodeEncodeError:
            data = value.encode("utf-8")
    else:
        data = value
    if _NEEDS_ESCAPE.search(data) is None:
        return data.decode("ascii")
    table = _TABLE
    return "".join([table[byte] for byte in data])


def _readable(value: bytes | str | None) -> str | None:
    """Received bytes as text for JSON: UTF-8 where they are, ``\\xhh`` where not."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            data = value.encode("latin-1")
        except UnicodeEncodeError:
            return value
    else:
        data = value
    return data.decode("utf-8", "backslashreplace")


@attrs.frozen
class AccessRecord:
    """What the access log knows about one answered request.

    Also attached to each log record as ``record.access``, so a structured handler
    can use the fields without parsing the message.
    """

    #: The client's address (after trusted proxies), or ``None`` when unknown.
    remote: str | None
    #: When the first byte of the request arrived, seconds since the epoch.
    time: float
    #: The method; empty for a request refused before its head was parsed (then
    #: :attr:`target` and :attr:`protocol` are empty too).
    method: str
    #: The request-target exactly as received (Latin-1 decoded bytes).
    target: str
    #: ``"HTTP/1.1"`` or ``"HTTP/1.0"``.
    protocol: str
    status: int
    #: Body bytes sent, or ``None`` when the server cannot tell (see the docs).
    size: int | None
    referer: bytes | None
    user_agent: bytes | None
    #: From the first byte of the request to the response handed to the transport, in µs.
    duration_us: int
    #: The address of the connection's other end (a proxy, when there is one).
    peer: str | None = None


_time_cache: list[Any] = [None, ""]


def format_time(when: float) -> str:
    """``10/Oct/2000:13:55:36 -0700``: Apache's ``%t`` without brackets, local time."""
    second = int(when)
    if _time_cache[0] == second:
        return str(_time_cache[1])
    local = time.localtime(second)
    offset = local.tm_gmtoff or 0
    sign = "-" if offset < 0 else "+"
    hours, minutes = divmod(abs(offset) // 60, 60)
    text = (
        f"{local.tm_mday:02d}/{_MONTHS[local.tm_mon - 1]}/{local.tm_year}:"
        f"{local.tm_hour:02d}:{local.tm_min:02d}:{local.tm_sec:02d} {sign}{hours:02d}{minutes:02d}"
    )
    _time_cache[0] = second
    _time_cache[1] = text
    return text


def format_combined(record: AccessRecord) -> str:
    """Apache's combined format plus the duration in microseconds (``%D``)::

    %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i" %D
    """
    # A request refused before its head was parsed has no request line: "-".
    request_line = (
        escape(f"{record.method} {record.target} {record.protocol}") if record.method else "-"
    )
    remote = escape(record.remote) if record.remote else "-"
    size = "-" if not record.size else str(record.size)
    referer = "-" if record.referer is None else escape(record.referer)
    agent = "-" if record.user_agent is None else escape(record.user_agent)
    return (
        f'{remote} - - [{format_time(record.time)}] "{request_line}" {record.status} {size} '
        f'"{referer}" "{agent}" {record.duration_us}'
    )


def format_json(record: AccessRecord) -> str:
    """One JSON object per line; see the reference page for the keys."""
    fields = {
        "time": _iso_time(record.time),
        "remote": record.remote,
        "peer": record.peer,
        "method": record.method or None,
        "target": _readable(record.target) if record.method else None,
        "protocol": record.protocol or None,
        "status": record.status,
        "bytes": record.size,
        "referer": _readable(record.referer),
        "user_agent": _readable(record.user_agent),
        "duration_us": record.duration_us,
    }
    return json.dumps(fields, separators=(",", ":"))


def _iso_time(when: float) -> str:
    local = time.localtime(int(when))
    milliseconds = int((when - int(when)) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", local) + f".{milliseconds:03d}" + _offset(local)


def _offset(local: time.struct_time) -> str:
    offset = local.tm_gmtoff or 0
    sign = "-" if offset < 0 else "+"
    hours, minutes = divmod(abs(offset) // 60, 60)
    return f"{sign}{hours:02d}:{minutes:02d}"
