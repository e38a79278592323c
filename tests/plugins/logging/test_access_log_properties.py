"""Whatever a client puts in the target or the User-Agent, each access line stays one
parseable line that gives the bytes back (hypothesis, against a real server)."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relays_http import Server
from relays_logging import AccessLog

pytestmark = pytest.mark.integration

COMBINED = re.compile(
    r'^\S+ - - \[[^\]]+\] "(?P<request>(?:[^"\\]|\\.)*)" (?P<status>\d{3}) (?:\d+|-) '
    r'"(?:[^"\\]|\\.)*" "(?P<agent>(?:[^"\\]|\\.)*)" \d+$'
)
_C_ESCAPES = {"n": 0x0A, "r": 0x0D, "t": 0x09, "b": 0x08, "v": 0x0B, '"': 0x22, "\\": 0x5C}

# What a client may try: quotes, backslashes, tabs, controls, DEL, non-ASCII bytes.
nasty = st.binary(max_size=40).filter(lambda data: b"\r" not in data and b"\n" not in data)
target_tail = st.lists(
    st.sampled_from([b'"', b"\\", b"%22", b"\xc3\xa9", b"\xff", b"a", b"/", b"?", b"=", b"\x7f"]),
    max_size=12,
).map(b"".join)


def unescape(text: str) -> bytes:
    out = bytearray()
    index = 0
    while index < len(text):
        if text[index] != "\\":
            out.append(ord(text[index]))
            index += 1
        elif text[index + 1] == "x":
            out.append(int(text[index + 2 : index + 4], 16))
            index += 4
        else:
            out.append(_C_ESCAPES[text[index + 1]])
            index += 2
    return bytes(out)


def exchange(port: int, head: bytes) -> int:
    """Send one request, read the whole answer; its status."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1])


def test_lines_stay_one_line(serve: Callable[..., Server], capture) -> None:
    combined_log = capture("relays.access")
    json_log = capture("relays.access.json")
    server = serve(AccessLog(), AccessLog(format="json", logger="relays.access.json"))
    port = server.port
    assert port is not None
    answered = 0

    @settings(
        max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(tail=target_tail, agent=nasty)
    def property(tail: bytes, agent: bytes) -> None:
        nonlocal answered
        target = b"/any/" + tail
        head = b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nUser-Agent: " + agent
        status = exchange(port, head + b"\r\nConnection: close\r\n\r\n")
        answered += 1
        (combined,) = combined_log.wait_for(answered)[-1:]
        (as_json,) = json_log.wait_for(answered)[-1:]
        for line in (combined, as_json):
            assert "\n" not in line
            assert "\r" not in line
            assert line.isascii()
        if status == 400:  # refused by the protocol (a byte not allowed there)
            logged_target = json.loads(as_json)["target"]
            if logged_target is None:  # the request line itself was refused
                assert ' "-" 400 - ' in combined
            else:  # a header was: the request line before it is logged
                assert logged_target == target.decode("utf-8", "backslashreplace")
                assert '" 400 - ' in combined
            return
        fields = COMBINED.match(combined)
        assert fields is not None, combined
        assert unescape(fields["request"]) == b"GET " + target + b" HTTP/1.1"
        # The server strips the field value's surrounding whitespace, as HTTP says.
        assert unescape(fields["agent"]) == agent.strip(b" \t")
        parsed = json.loads(as_json)
        assert parsed["target"] == target.decode("utf-8", "backslashreplace")
        assert parsed["status"] == int(fields["status"]) == status

    property()
    assert answered > 0
