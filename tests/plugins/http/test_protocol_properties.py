"""Hypothesis properties of request parsing, with h11 as a differential oracle.

1. Any split of a valid request parses to the same events as the whole, and as
   one byte at a time.
2. Bytes after a complete request stay untouched for the next one, so a
   pipelined sequence parses to the same requests as each one alone.
3. Random and mutated bytes either parse or raise RemoteProtocolError, nothing
   else, and always within a bounded number of steps.
4. h11 agrees on valid requests, and what h11 refuses we refuse too, except for
   the deliberate differences listed in ``_h11_is_stricter``.
5. A refused head keeps its request line (``RemoteProtocolError.request_line``)
   exactly when that line arrived whole and valid, in any split.
"""

from __future__ import annotations

from collections.abc import Iterable

import h11
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relays_http._protocol import (
    NEED_DATA,
    PAUSED,
    Connection,
    ConnectionClosed,
    Data,
    EndOfMessage,
    RemoteProtocolError,
    Request,
    Response,
    State,
)
from relays_http._protocol._readers import valid_request_line

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- strategies ---------------------------------------------------------------------

TOKEN = rb"[-!#$%&'*+.^_`|~0-9A-Za-z]"
RESERVED = {
    b"content-length",
    b"transfer-encoding",
    b"host",
    b"connection",
    b"expect",
    b"trailer",
    b"content-type",  # a singleton the server reads: a repeat is refused
}
names = st.from_regex(TOKEN + rb"{1,12}", fullmatch=True).filter(
    lambda name: name.lower() not in RESERVED
)
# Field values as h11 and we both keep them: no surrounding whitespace, no controls.
values = st.from_regex(
    rb"([!-~\x80-\xff]([ \t!-~\x80-\xff]{0,10}[!-~\x80-\xff])?)?", fullmatch=True
)
methods = st.one_of(
    st.sampled_from([b"GET", b"POST", b"PUT", b"DELETE", b"PATCH", b"OPTIONS"]),
    st.from_regex(TOKEN + rb"{1,8}", fullmatch=True),
)
origin_targets = st.from_regex(rb"/[!-~]{0,20}", fullmatch=True)
absolute_targets = st.from_regex(
    rb"https?://[a-z0-9.]{1,12}(:[0-9]{1,5})?(/[!-~]{0,12})?", fullmatch=True
)
authority_targets = st.from_regex(rb"[a-z0-9.-]{1,12}:[0-9]{1,5}", fullmatch=True)


def targets(method: bytes) -> st.SearchStrategy[bytes]:
    """Request-targets in the forms *method* takes (RFC 9112 3.2)."""
    if method == b"CONNECT":
        return authority_targets
    if method == b"OPTIONS":
        return st.one_of(st.just(b"*"), origin_targets, absolute_targets)
    return st.one_of(origin_targets, absolute_targets)


fields = st.lists(st.tuples(names, values), max_size=6)
chunk_extensions = st.sampled_from([b"", b";a", b";a=b", b';a="q s"', b"; x = 1"])


@st.composite
def requests(draw: st.DrawFn, keep_alive: bool = False) -> tuple[bytes, dict[str, object]]:
    """Return raw request bytes and what parsing them must produce."""
    method = draw(methods)
    target = draw(targets(method))
    version = draw(st.sampled_from([b"1.1", b"1.0"]))
    headers = draw(fields)
    if version == b"1.1" or draw(st.booleans()):
        headers.insert(draw(st.integers(0, len(headers))), (b"Host", b"example.com"))
    if keep_alive and version == b"1.0":
        headers.append((b"Connection", b"keep-alive"))
    body = draw(st.binary(max_size=40))
    trailers: list[tuple[bytes, bytes]] = []
    framing = draw(st.sampled_from(["length", "chunked"] if version == b"1.1" else ["length"]))
    if framing == "chunked":
        headers.append((b"Transfer-Encoding", b"chunked"))
        encoded = b""
        rest = body
        while rest:
            size = draw(st.integers(1, len(rest)))
            digits = draw(st.sampled_from(["%x", "%X", "%04x"])) % size
            encoded += digits.encode() + draw(chunk_extensions) + b"\r\n" + rest[:size] + b"\r\n"
            rest = rest[size:]
        trailers = draw(fields)
        encoded += b"0\r\n" + b"".join(n + b": " + v + b"\r\n" for n, v in trailers) + b"\r\n"
    elif body or draw(st.booleans()):
        headers.append((b"Content-Length", b"%d" % len(body)))
        encoded = body
    else:
        encoded = b""
    raw = (
        method + b" " + target + b" HTTP/" + version + b"\r\n"
        + b"".join(name + b": " + value + b"\r\n" for name, value in headers)
        + b"\r\n"
        + encoded
    )  # fmt: skip
    expected = {
        "method": method,
        "target": target,
        "headers": [(name.lower(), value) for name, value in headers],
        "body": body,
        "trailers": [(name.lower(), value) for name, value in trailers],
    }
    return raw, expected


def splits(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    pieces = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    return [piece for piece in pieces if piece]  # b"" would mean EOF


# -- driving ------------------------------------------------------------------------


def parse(pieces: Iterable[bytes], respond: bool = True, eof: bool = False) -> list[object]:
    """Feed ``pieces``, answering each request, and return normalised events.

    Consecutive Data events are merged: how a body is split carries no meaning.
    The number of steps is bounded, so a parser that loops fails instead of hanging.
    """
    connection = Connection()
    out: list[object] = []
    steps = 0

    def drain() -> None:
        nonlocal steps
        while True:
            steps += 1
            assert steps < 100_000, "parser does not make progress"
            event = connection.next_event()
            if event is NEED_DATA or type(event) is ConnectionClosed:
                return
            if event is PAUSED:
                if connection.our_state is State.DONE and connection.their_state is State.DONE:
                    connection.start_next_cycle()
                    continue
                return
            if type(event) is Data and out and type(out[-1]) is Data:
                out[-1] = Data(out[-1].data + event.data)
            else:
                out.append(event)
            if type(event) is EndOfMessage and respond:
                connection.send(Response(200, [(b"Content-Length", b"0")]))
                connection.send(EndOfMessage())
                if connection.our_state is State.DONE and connection.their_state is State.DONE:
                    connection.start_next_cycle()

    for piece in pieces:
        if connection.our_state is State.MUST_CLOSE:
            return out  # the glue would close now; later bytes are never read
        connection.receive_data(piece)
        drain()
    if eof and connection.our_state is not State.MUST_CLOSE:
        connection.receive_data(b"")
        drain()
    return out


def summary(events: list[object]) -> list[dict[str, object]]:
    """Group events into one dict per request, shaped like ``requests()``' expectation."""
    result: list[dict[str, object]] = []
    for event in events:
        if isinstance(event, Request):
            result.append(
                {"method": event.method, "target": event.target, "headers": event.headers}
            )
            result[-1]["body"] = b""
        elif isinstance(event, Data):
            result[-1]["body"] = event.data
        elif isinstance(event, EndOfMessage):
            result[-1]["trailers"] = list(event.trailers)
    return result


# -- 1. splits ------------------------------------------------------------------------


@SETTINGS
@given(requests(), st.lists(st.integers(0, 10_000), max_size=8))
def test_any_split_parses_the_same(
    request: tuple[bytes, dict[str, object]], cuts: list[int]
) -> None:
    raw, expected = request
    whole = parse([raw])
    assert summary(whole) == [expected]
    assert parse(splits(raw, cuts)) == whole
    assert parse(raw[i : i + 1] for i in range(len(raw))) == whole


# -- 2. trailing bytes and pipelining -------------------------------------------------


@SETTINGS
@given(requests(), st.binary(max_size=30))
def test_bytes_after_a_request_are_left_alone(
    request: tuple[bytes, dict[str, object]], extra: bytes
) -> None:
    raw, _ = request
    connection = Connection()
    connection.receive_data(raw + extra)
    for _ in range(100):
        if type(connection.next_event()) is EndOfMessage:
            break
    assert connection.trailing_data == (extra, False)
    assert connection.next_event() is (PAUSED if extra else NEED_DATA)
    assert connection.trailing_data == (extra, False)


@settings(SETTINGS, max_examples=100)
@given(
    st.lists(requests(keep_alive=True), min_size=1, max_size=3),
    st.lists(st.integers(0, 10_000), max_size=8),
)
def test_pipelined_requests_parse_like_single_ones(
    pipeline: list[tuple[bytes, dict[str, object]]], cuts: list[int]
) -> None:
    raw = b"".join(request for request, _ in pipeline)
    assert summary(parse(splits(raw, cuts))) == [expected for _, expected in pipeline]


# -- 3. robustness ---------------------------------------------------------------------

INTERESTING = [
    b"\r", b"\n", b"\r\n", b"\x00", b" ", b"\t", b":", b",", b";", b"0", b"\xff",
    b"Transfer-Encoding: chunked\r\n", b"Content-Length: 5\r\n", b"Host: x\r\n",
    b"\r\n\r\n", b"0\r\n\r\n", b"ffffffffffffffffff\r\n", b" HTTP/1.1",
]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    raw, _ = draw(requests())
    data = bytearray(raw)
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["insert", "delete", "replace", "duplicate"]))
        if action == "insert":
            data[position:position] = draw(st.sampled_from(INTERESTING) | st.binary(max_size=3))
        elif action == "delete":
            del data[position : position + draw(st.integers(1, 4))]
        elif action == "replace" and position < len(data):
            data[position] = draw(st.integers(0, 255))
        else:
            data[position:position] = data[position : position + draw(st.integers(1, 20))]
    return bytes(data)


@SETTINGS
@given(
    st.one_of(st.binary(max_size=200), mutated()),
    st.lists(st.integers(0, 10_000), max_size=5),
    st.booleans(),
)
def test_any_bytes_parse_or_raise_remote_protocol_error(
    data: bytes, cuts: list[int], eof: bool
) -> None:
    error: RemoteProtocolError | None = None
    try:
        parse(splits(data, cuts), eof=eof)
    except RemoteProtocolError as raised:
        error = raised
    assert error is None or (400 <= error.status_code <= 505 and error.reason)


# -- 4. h11 as an oracle ---------------------------------------------------------------


def h11_parse(data: bytes) -> list[object] | None:
    """Parse one request with h11: events, or None when it needs more bytes."""
    connection = h11.Connection(h11.SERVER)
    connection.receive_data(data)
    events: list[object] = []
    for _ in range(10_000):
        event = connection.next_event()
        if event is h11.NEED_DATA or event is h11.PAUSED:
            return None
        events.append(event)
        if type(event) is h11.EndOfMessage:
            return events
    raise AssertionError("h11 does not make progress")


def h11_summary(events: list[object]) -> dict[str, object]:
    request = events[0]
    assert isinstance(request, h11.Request)
    end = events[-1]
    assert isinstance(end, h11.EndOfMessage)
    return {
        "method": request.method,
        "target": request.target,
        "headers": list(request.headers),
        "body": b"".join(event.data for event in events if isinstance(event, h11.Data)),
        "trailers": list(end.headers),
    }


def our_first_request(data: bytes) -> dict[str, object] | None:
    result = summary(parse([data], respond=False))
    if not result or "trailers" not in result[0]:
        return None
    return result[0]


def _h11_is_stricter(data: bytes) -> bool:
    """Inputs h11 refuses and we accept, on purpose (see docs/reference/http-protocol.rst).

    * Empty lines before the request line: RFC 9112 2.2 says a server SHOULD
      ignore at least one; h11 refuses them.
    * Whitespace before ";" in a chunk-size line: RFC 9112 7.1.1 allows it (BWS).
    * ``Content-Length: 0005``-style and list-with-empty-element Transfer-Encoding
      values h11's narrower grammar refuses.
    """
    head, _, body = data.partition(b"\r\n\r\n")
    lower = head.lower()
    return (
        data.startswith(b"\r\n")
        or b" ;" in body
        or b"\t;" in body
        or b"transfer-encoding: chunked," in lower
        or b"transfer-encoding: ," in lower
    )


@SETTINGS
@given(requests())
def test_h11_agrees_on_valid_requests(request: tuple[bytes, dict[str, object]]) -> None:
    raw, expected = request
    events = h11_parse(raw)
    assert events is not None
    assert h11_summary(events) == expected == our_first_request(raw)


@SETTINGS
@given(mutated())
def test_what_h11_refuses_we_refuse(data: bytes) -> None:
    try:
        h11_events = h11_parse(data)
    except h11.RemoteProtocolError:
        h11_events = None
        h11_refused = True
    else:
        h11_refused = False
    try:
        ours = our_first_request(data)
    except RemoteProtocolError:
        return  # we refuse: fine whatever h11 said (we are stricter, on purpose)
    if h11_refused and ours is not None:
        assert _h11_is_stricter(data), f"h11 refused {data!r}, we accepted"
    elif h11_events is not None and ours is not None:
        assert h11_summary(h11_events) == ours


# -- 5. the request line of a refused head ---------------------------------------------

#: Field lines that make any head they are in refused, each for another rule.
BAD_FIELD_LINES = [
    b"Bad Name: x",  # a space in a name
    b"X-Space : x",  # whitespace before the colon
    b"No colon here",
    b" folded: x",  # obs-fold
    b"X-Nul: a\x00b",  # a control character
    b"X-Cr: a\rb",  # a bare CR
    b"Content-Length: 1x",
    b"Content-Length: 5\r\nContent-Length: 6",
    b"Transfer-Encoding: gzip",
    b"Host: a\r\nHost: b",
    b"X-Lf: a\nb: c",  # a bare LF
]


def first_error(pieces: Iterable[bytes], eof: bool) -> RemoteProtocolError | None:
    try:
        parse(pieces, eof=eof)
    except RemoteProtocolError as error:
        return error
    return None


@SETTINGS
@given(
    requests(),
    st.sampled_from(BAD_FIELD_LINES),
    st.lists(st.integers(0, 10_000), max_size=6),
    st.booleans(),
)
def test_a_head_refused_below_a_valid_request_line_keeps_it(
    request: tuple[bytes, dict[str, object]], bad: bytes, cuts: list[int], eof: bool
) -> None:
    raw, _ = request
    line, _, rest = raw.partition(b"\r\n")
    data = line + b"\r\n" + bad + b"\r\n" + rest
    error = first_error(splits(data, cuts), eof)
    assert error is not None, data
    assert error.request_line == line


@SETTINGS
@given(
    st.one_of(st.binary(max_size=200), mutated()),
    st.lists(st.integers(0, 10_000), max_size=5),
    st.booleans(),
)
def test_a_kept_request_line_is_a_valid_line_of_the_input(
    data: bytes, cuts: list[int], eof: bool
) -> None:
    error = first_error(splits(data, cuts), eof)
    if error is None or error.request_line is None:
        return
    lines = {valid_request_line(line) for line in data.split(b"\r\n")}
    assert error.request_line in lines - {None}
