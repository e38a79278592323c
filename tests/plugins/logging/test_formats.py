"""Access lines stay one parseable line whatever the client sent (hypothesis)."""

from __future__ import annotations

import json
import re
import time

from hypothesis import given
from hypothesis import strategies as st

from relays_logging import AccessRecord, escape, format_combined, format_json

COMBINED = re.compile(
    r"^(?P<remote>\S+) - - \[(?P<time>[^\]]+)\] "
    r'"(?P<request>(?:[^"\\]|\\.)*)" (?P<status>\d{3}) (?P<size>\d+|-) '
    r'"(?P<referer>(?:[^"\\]|\\.)*)" "(?P<agent>(?:[^"\\]|\\.)*)" (?P<duration>\d+)$'
)
_C_ESCAPES = {"n": 0x0A, "r": 0x0D, "t": 0x09, "b": 0x08, "v": 0x0B, '"': 0x22, "\\": 0x5C}


def unescape(text: str) -> bytes:
    """The inverse of :func:`escape`, to prove nothing is lost."""
    out = bytearray()
    index = 0
    while index < len(text):
        char = text[index]
        if char != "\\":
            out.append(ord(char))
            index += 1
        elif text[index + 1] == "x":
            out.append(int(text[index + 2 : index + 4], 16))
            index += 4
        else:
            out.append(_C_ESCAPES[text[index + 1]])
            index += 2
    return bytes(out)


def record(**changes: object) -> AccessRecord:
    fields: dict[str, object] = {
        "remote": "192.0.2.1",
        "time": 1_000_000_000.25,
        "method": "GET",
        "target": "/",
        "protocol": "HTTP/1.1",
        "status": 200,
        "size": 5,
        "referer": None,
        "user_agent": None,
        "duration_us": 1234,
    }
    fields.update(changes)
    return AccessRecord(**fields)  # type: ignore[arg-type]


def test_escape_like_apache() -> None:
    assert escape(b"plain text /a?b=c") == "plain text /a?b=c"
    assert escape(b'say "hi"\\') == 'say \\"hi\\"\\\\'
    assert escape(b"a\nb\rc\td\x08\x0b") == "a\\nb\\rc\\td\\b\\v"
    assert escape(b"\x00\x1f\x7f\x80\xff") == "\\x00\\x1f\\x7f\\x80\\xff"
    assert escape("Zoë") == "Zo\\xeb"  # a str is the server's Latin-1 view of the bytes
    assert escape("日本") == "\\xe6\\x97\\xa5\\xe6\\x9c\\xac"  # not from the wire: UTF-8


@given(st.binary())
def test_escape_is_printable_and_reversible(data: bytes) -> None:
    text = escape(data)
    assert text.isascii()
    assert text.isprintable()
    assert unescape(text) == data


def test_combined_line() -> None:
    line = format_combined(record(referer=b"http://example.com/", user_agent=b"curl/8.0", size=0))
    fields = COMBINED.match(line)
    assert fields is not None, line
    local = time.localtime(1_000_000_000)
    assert fields["time"] == time.strftime("%d/%b/%Y:%H:%M:%S %z", local)
    assert fields["request"] == "GET / HTTP/1.1"
    assert fields["size"] == "-"  # Apache's %b: no body bytes
    assert (fields["referer"], fields["agent"]) == ("http://example.com/", "curl/8.0")
    assert fields["duration"] == "1234"
    assert format_combined(record(remote=None)).startswith("- - - [")


latin1_text = st.binary().map(lambda data: data.decode("latin-1"))


@given(target=latin1_text, agent=st.binary(), referer=st.one_of(st.none(), st.binary()))
def test_combined_stays_one_parseable_line(
    target: str, agent: bytes, referer: bytes | None
) -> None:
    line = format_combined(record(target=target, user_agent=agent, referer=referer))
    assert "\n" not in line
    assert "\r" not in line
    assert line.isprintable()
    fields = COMBINED.match(line)
    assert fields is not None, line
    assert unescape(fields["request"]) == f"GET {target} HTTP/1.1".encode("latin-1")
    assert unescape(fields["agent"]) == agent
    if referer is None:
        assert fields["referer"] == "-"
    else:
        assert unescape(fields["referer"]) == referer


@given(target=latin1_text, agent=st.binary(), size=st.one_of(st.none(), st.integers(0, 10**12)))
def test_json_stays_one_parseable_line(target: str, agent: bytes, size: int | None) -> None:
    line = format_json(record(target=target, user_agent=agent, size=size))
    assert "\n" not in line
    assert "\r" not in line
    assert line.isascii()
    fields = json.loads(line)
    assert fields["bytes"] == size
    assert fields["user_agent"] == agent.decode("utf-8", "backslashreplace")
    assert fields["target"] == target.encode("latin-1").decode("utf-8", "backslashreplace")


def test_json_keeps_utf8_readable() -> None:
    fields = json.loads(format_json(record(target="/caf\xc3\xa9", user_agent="Zoë".encode())))
    assert fields["target"] == "/café"
    assert fields["user_agent"] == "Zoë"
