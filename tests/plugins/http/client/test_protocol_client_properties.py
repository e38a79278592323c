"""Hypothesis properties of response parsing (the core's client role), h11 as the oracle.

1. Any split of a valid response parses to the same events as the whole, and as one
   byte at a time.
2. Bytes after a complete response (other than one read until close) stay untouched.
3. Random and mutated bytes either parse or raise RemoteProtocolError, nothing else,
   within a bounded number of steps and with a buffer bounded by the limits.
4. h11 agrees on valid responses, and what h11 refuses we refuse too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

import h11
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relays_http._protocol import NEED_DATA, Data, EndOfMessage, RemoteProtocolError
from relays_http._protocol._client import ClientConnection, ResponseHead, ResponseLimits

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HOST = [(b"Host", b"example.test")]

TOKEN = rb"[-!#$%&'*+.^_`|~0-9A-Za-z]"
RESERVED = {b"content-length", b"transfer-encoding", b"connection", b"trailer", b"host"}
names = st.from_regex(TOKEN + rb"{1,12}", fullmatch=True).filter(
    lambda name: name.lower() not in RESERVED
)
values = st.from_regex(
    rb"([!-~\x80-\xff]([ \t!-~\x80-\xff]{0,10}[!-~\x80-\xff])?)?", fullmatch=True
)
fields = st.lists(st.tuples(names, values), max_size=6)
reasons = st.from_regex(rb"[ \t!-~]{0,12}", fullmatch=True)
chunk_extensions = st.sampled_from([b"", b";a", b";a=b", b';a="q s"'])


def render_head(
    status: int, reason: bytes, version: bytes, headers: Iterable[tuple[bytes, bytes]]
) -> bytes:
    lines = [b"HTTP/%s %d %s" % (version, status, reason)]
    lines += [name + b": " + value for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


@st.composite
def responses(draw: st.DrawFn) -> tuple[bytes, bytes, bool]:
    """``(request method, response bytes, delimited by close)`` of a valid response."""
    interim = b"".join(
        render_head(status, draw(reasons), b"1.1", draw(fields))
        for status in draw(st.lists(st.sampled_from([100, 102, 103]), max_size=2))
    )
    method = draw(st.sampled_from([b"GET", b"GET", b"HEAD"]))
    version = draw(st.sampled_from([b"1.1", b"1.1", b"1.0"]))
    status = draw(st.sampled_from([200, 201, 204, 301, 304, 404, 500, 599]))
    headers = draw(fields)
    body = draw(st.binary(max_size=40))
    framings = ["length", "close"] + (["chunked"] if version == b"1.1" else [])
    framing = draw(st.sampled_from(framings))
    if method == b"HEAD" or status in (204, 304):
        body = b""
        if framing == "close":
            framing = "length"  # a bodiless response is never read until close
    if framing == "length":
        headers = [*headers, (b"Content-Length", b"%d" % len(body))]
        wire = body
    elif framing == "chunked":
        headers = [*headers, (b"Transfer-Encoding", b"chunked")]
        cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=4)))
        pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
        wire = b"".join(
            b"%x%s\r\n%s\r\n" % (len(piece), draw(chunk_extensions), piece)
            for piece in pieces
            if piece
        )
        trailers = draw(fields)
        wire += b"0\r\n" + b"".join(n + b": " + v + b"\r\n" for n, v in trailers) + b"\r\n"
    else:
        wire = body
    if method == b"HEAD" or status in (204, 304):
        wire = b""
    return (
        method,
        interim + render_head(status, draw(reasons), version, headers) + wire,
        (framing == "close"),
    )


def parse(
    method: bytes, pieces: Iterable[bytes], eof: bool, limits: ResponseLimits | None = None
) -> tuple[list[tuple[object, ...]], ClientConnection]:
    """Our events for ``pieces``, normalised: Data merged, heads as tuples."""
    connection = ClientConnection(limits)
    connection.start_request(method, b"/", HOST)
    connection.end_request()
    events: list[tuple[object, ...]] = []
    body = bytearray()
    feed = [*pieces, *([b""] if eof else [])]
    done = False
    for piece in feed:
        connection.receive_data(piece)
        for _ in range(10_000):  # bounded: each call consumes bytes or needs more
            event = connection.next_event()
            if event is NEED_DATA:
                break
            if isinstance(event, ResponseHead):
                events.append(("head", event.status_code, event.http_version, event.headers))
            elif type(event) is Data:
                body += event.data
            else:
                assert isinstance(event, EndOfMessage)
                events.append(("body", bytes(body)))
                events.append(("end", list(event.trailers)))
                done = True
                break
        else:
            raise AssertionError("next_event never needed data")
        if done:
            break
        assert connection.buffered_size <= connection.limits.max_head_size + len(piece)
    return events, connection


def splits(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    pieces = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    return [piece for piece in pieces if piece]  # b"" would mean EOF


@SETTINGS
@given(responses(), st.lists(st.integers(0, 10_000), max_size=6))
def test_any_split_parses_the_same(response: tuple[bytes, bytes, bool], cuts: list[int]) -> None:
    method, data, close = response
    whole, _ = parse(method, [data], close)
    assert whole
    assert whole[-1][0] == "end"
    assert parse(method, splits(data, cuts), close)[0] == whole
    assert parse(method, [data[i : i + 1] for i in range(len(data))], close)[0] == whole


@SETTINGS
@given(responses(), st.binary(min_size=1, max_size=30))
def test_trailing_bytes_are_left_untouched(
    response: tuple[bytes, bytes, bool], trailing: bytes
) -> None:
    method, data, close = response
    if close:
        return  # everything until EOF is the body
    events, connection = parse(method, [data + trailing], False)
    assert events[-1][0] == "end"
    assert connection.trailing_data == (trailing, False)
    assert not connection.reusable


def h11_events(method: bytes, data: bytes, eof: bool) -> list[tuple[object, ...]] | None:
    """h11's reading of ``data``, normalised like ours; None if h11 refuses it."""
    connection = h11.Connection(h11.CLIENT, max_incomplete_event_size=1 << 20)
    connection.send(h11.Request(method=method, target=b"/", headers=HOST))
    connection.send(h11.EndOfMessage())
    connection.receive_data(data)
    if eof:
        connection.receive_data(b"")
    events: list[tuple[object, ...]] = []
    body = bytearray()
    try:
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return events
            if isinstance(event, h11.InformationalResponse | h11.Response):
                events.append(("head", event.status_code, event.http_version, list(event.headers)))
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                events.append(("body", bytes(body)))
                events.append(("end", list(event.headers)))
                return events
            else:
                return events
    except h11.RemoteProtocolError:
        return None


@SETTINGS
@given(responses())
def test_h11_agrees_on_valid_responses(response: tuple[bytes, bytes, bool]) -> None:
    method, data, close = response
    ours, _ = parse(method, [data], close)
    assert h11_events(method, data, close) == ours


mutations = st.sampled_from(
    [b"\r", b"\n", b" ", b"\t", b":", b"\x00", b"0", b"9", b"a", b";", b"\r\n", b",", b"\x7f"]
)


@SETTINGS
@given(
    responses(), st.integers(0, 10_000), mutations, st.sampled_from(["insert", "replace", "cut"])
)
def test_mutated_responses_parse_or_raise_and_h11_refusals_are_ours(
    response: tuple[bytes, bytes, bool], at: int, byte: bytes, how: str
) -> None:
    method, data, _close = response
    at %= len(data) + 1
    if how == "insert":
        data = data[:at] + byte + data[at:]
    elif how == "replace":
        data = data[:at] + byte + data[at + 1 :]
    else:
        data = data[:at]
    try:
        ours: list[tuple[object, ...]] | None = parse(method, [data], True)[0]
    except RemoteProtocolError:
        ours = None
    theirs = h11_events(method, data, True)
    if theirs is None:
        assert ours is None, "h11 refused what we accepted"


@SETTINGS
@given(st.binary(max_size=200), st.lists(st.integers(0, 10_000), max_size=4), st.booleans())
def test_any_bytes_parse_or_raise_the_protocol_error(
    data: bytes, cuts: list[int], eof: bool
) -> None:
    limits = ResponseLimits(max_head_size=64, max_header_size=32, max_status_line=32)
    with contextlib.suppress(RemoteProtocolError):
        parse(b"GET", splits(b"HTTP/1.1 " + data, cuts), eof, limits)
