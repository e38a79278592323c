"""Request parsing: every framing and syntax rule, each with its status code."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relays_http._protocol import (
    NEED_DATA,
    PAUSED,
    Connection,
    ConnectionClosed,
    Data,
    EndOfMessage,
    Event,
    Limits,
    RemoteProtocolError,
    Request,
    Signal,
    State,
)
from relays_http._protocol._readers import _USUAL_REQUEST_LINE, _parse_request_line


def events_of(
    data: bytes, limits: Limits | None = None, eof: bool = False
) -> list[Event | Signal]:
    """Feed ``data`` whole and collect events up to the first flow signal."""
    connection = Connection(limits)
    connection.receive_data(data)
    if eof:
        connection.receive_data(b"")
    events: list[Event | Signal] = []
    for _ in range(1000):
        event = connection.next_event()
        events.append(event)
        if event in (NEED_DATA, PAUSED) or type(event) is ConnectionClosed:
            return events
    raise AssertionError("no flow signal after 1000 events")


def refused(data: bytes, limits: Limits | None = None, eof: bool = False) -> RemoteProtocolError:
    """Return the error ``data`` is refused with, checking the connection is dead after."""
    connection = Connection(limits)
    connection.receive_data(data)
    if eof:
        connection.receive_data(b"")

    def drain() -> None:
        for _ in range(1000):
            event = connection.next_event()
            assert event is not NEED_DATA or not eof
            if event is NEED_DATA or event is PAUSED:
                return

    with pytest.raises(RemoteProtocolError) as caught:
        drain()
    assert connection.their_state is State.ERROR
    assert connection.must_close
    with pytest.raises(RemoteProtocolError):  # and stays dead
        connection.next_event()
    return caught.value


def body_of(events: list[Event | Signal]) -> bytes:
    return b"".join(event.data for event in events if type(event) is Data)


GET = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"


def test_simple_get() -> None:
    request, end, signal = events_of(
        b"GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nX-Thing:  spaced value \t\r\n\r\n"
    )
    assert request == Request(
        b"GET",
        b"/a?b=c",
        b"1.1",
        [(b"host", b"example.com"), (b"x-thing", b"spaced value")],
        keep_alive=True,
        expects_continue=False,
    )
    assert isinstance(request, Request)
    assert request.get(b"x-thing") == b"spaced value"
    assert request.get(b"missing") is None
    assert request.get(b"missing", b"d") == b"d"
    assert end == EndOfMessage()
    assert signal is NEED_DATA


def test_get_all_keeps_order_and_repeats() -> None:
    request = events_of(b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nA: 3\r\n\r\n")[0]
    assert isinstance(request, Request)
    assert request.get_all(b"a") == [b"1", b"3"]


@pytest.mark.parametrize(
    ("method", "target"),
    [
        (b"OPTIONS", b"/"),
        (b"OPTIONS", b"*"),
        (b"GET", b"http://example.com/x?y"),
        (b"CONNECT", b"example.com:443"),
        (b"CONNECT", b"[::1]:443"),
        (b"GET", b"/%41%20?q="),
    ],
)
def test_request_target_forms(method: bytes, target: bytes) -> None:
    request = events_of(method + b" " + target + b" HTTP/1.1\r\nHost: a\r\n\r\n")[0]
    assert isinstance(request, Request)
    assert request.target == target


@pytest.mark.parametrize(
    ("method", "target", "reason"),
    [
        (b"GET", b"*", "only for OPTIONS"),
        (b"GET", b"example.com:443", "invalid request target"),
        (b"GET", b"index.html", "invalid request target"),
        (b"GET", b"http:/x", "invalid request target"),
        (b"CONNECT", b"/", "CONNECT needs a host:port"),
        (b"CONNECT", b"http://example.com/", "CONNECT needs a host:port"),
        (b"CONNECT", b"example.com", "CONNECT needs a host:port"),
    ],
)
def test_a_target_in_a_form_its_method_does_not_take_is_refused(
    method: bytes, target: bytes, reason: str
) -> None:
    error = refused(method + b" " + target + b" HTTP/1.1\r\nHost: a\r\n\r\n")
    assert (error.status_code, reason in error.reason) == (400, True)


def test_a_repeated_content_type_is_refused() -> None:
    error = refused(
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\n"
        b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    )
    assert "more than one Content-Type" in error.reason


@pytest.mark.parametrize("extension", [b";", b"; ", b";=1", b";a=", b";a;", b';a="open'])
def test_a_chunk_extension_needs_a_name(extension: bytes) -> None:
    error = refused(CHUNKED + b"5" + extension + b"\r\nhello\r\n0\r\n\r\n")
    assert "chunk extension" in error.reason


@pytest.mark.parametrize("extension", [b";a", b";a=b", b' ; a = "x;y" ;b'])
def test_named_chunk_extensions_are_ignored(extension: bytes) -> None:
    events = events_of(CHUNKED + b"5" + extension + b"\r\nhello\r\n0\r\n\r\n")
    assert body_of(events) == b"hello"


def test_http_10_without_host() -> None:
    request = events_of(b"GET / HTTP/1.0\r\n\r\n")[0]
    assert isinstance(request, Request)
    assert request.http_version == b"1.0"
    assert request.keep_alive is False


@pytest.mark.parametrize(
    ("version", "connection", "keep_alive"),
    [
        (b"1.1", b"", True),
        (b"1.1", b"Connection: close\r\n", False),
        (b"1.1", b"Connection: Keep-Alive, CLOSE\r\n", False),
        (b"1.1", b"Connection: upgrade\r\n", True),
        (b"1.0", b"", False),
        (b"1.0", b"Connection: keep-alive\r\n", True),
        (b"1.0", b"Connection: Keep-Alive\r\n", True),
        (b"1.0", b"Connection: foo,\r\nConnection: keep-alive\r\n", True),
        (b"1.0", b"Connection: keep-alive, close\r\n", False),
    ],
)
def test_keep_alive_decision(version: bytes, connection: bytes, keep_alive: bool) -> None:
    request = events_of(b"GET / HTTP/" + version + b"\r\nHost: a\r\n" + connection + b"\r\n")[0]
    assert isinstance(request, Request)
    assert request.keep_alive is keep_alive


def test_leading_empty_lines_are_skipped() -> None:
    assert isinstance(events_of(b"\r\n\r\n" + GET)[0], Request)


def test_content_length_body() -> None:
    events = events_of(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET")
    assert body_of(events) == b"hello"
    assert events[-2:] == [EndOfMessage(), PAUSED]


@pytest.mark.parametrize("value", [b"05", b" 5 "])
def test_a_content_length_with_leading_zeros_or_spaces_is_its_number(value: bytes) -> None:
    events = events_of(
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: " + value + b"\r\n\r\nhello"
    )
    assert body_of(events) == b"hello"


@pytest.mark.parametrize(
    "fields",
    [b"Content-Length: 5, 5", b"Content-Length: 5,5", b"Content-Length: 5\r\nContent-Length: 5"],
)
def test_a_content_length_list_or_repeat_is_refused_even_when_equal(fields: bytes) -> None:
    error = refused(b"POST / HTTP/1.1\r\nHost: a\r\n" + fields + b"\r\n\r\nhello")
    assert "more than one Content-Length" in error.reason


def test_content_length_zero_has_no_body() -> None:
    events = events_of(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
    assert events[1:] == [EndOfMessage(), NEED_DATA]


CHUNKED = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"


def test_chunked_body_with_extensions_and_trailers() -> None:
    events = events_of(
        CHUNKED + b'5;name=value;quoted="a b"\r\nhello\r\n'
        b"6 ; x\r\n world\r\n0\r\nExpires: never\r\nX-Sum:  abc \r\n\r\n"
    )
    assert body_of(events) == b"hello world"
    assert events[-2] == EndOfMessage([(b"expires", b"never"), (b"x-sum", b"abc")])


@pytest.mark.parametrize("coding", [b"chunked", b"Chunked", b"chunked, ", b", chunked"])
def test_chunked_spellings(coding: bytes) -> None:
    data = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: " + coding + b"\r\n\r\n0\r\n\r\n"
    assert events_of(data)[-2:] == [EndOfMessage(), NEED_DATA]


def test_chunk_size_hex_and_leading_zeros() -> None:
    events = events_of(CHUNKED + b"0000A\r\n0123456789\r\n0\r\n\r\n")
    assert body_of(events) == b"0123456789"


# --- refusals, with their status codes -----------------------------------------

BAD_REQUESTS_400 = {
    "TE and CL": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n",
    "differing CL": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
    b"Content-Length: 4\r\n\r\n",
    "differing CL list": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 4\r\n\r\n",
    "CL +5": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n",
    "CL -5": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\n",
    "CL 0x5": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n",
    "CL 5 5": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:  5 5\r\n\r\n",
    "CL 1_0": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1_0\r\n\r\n",
    "CL empty": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n",
    "CL trailing comma": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,\r\n\r\n",
    "CL unicode digit": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \xd9\xa5\r\n\r\n",
    "chunked not last": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
    "chunked twice": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
    "chunked twice in fields": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n",
    "unknown coding alone": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: foo\r\n\r\n",
    "empty TE": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n",
    "TE in 1.0": b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
    "chunk size not hex": CHUNKED + b"5g\r\nhello\r\n0\r\n\r\n",
    "chunk size 0x": CHUNKED + b"0x5\r\nhello\r\n0\r\n\r\n",
    "chunk size signed": CHUNKED + b"+5\r\nhello\r\n0\r\n\r\n",
    "chunk size empty": CHUNKED + b"\r\nhello\r\n0\r\n\r\n",
    "chunk size leading space": CHUNKED + b" 5\r\nhello\r\n0\r\n\r\n",
    "chunk size underscore": CHUNKED + b"1_0\r\n0123456789abcdef\r\n0\r\n\r\n",
    "chunk size overflow": CHUNKED + b"1" + b"0" * 16 + b"\r\n",
    "chunk data without CRLF": CHUNKED + b"5\r\nhelloXX0\r\n\r\n",
    "chunk data with LF only": CHUNKED + b"5\r\nhello\n0\r\n\r\n",
    "bare LF in chunk extension": CHUNKED + b"5;a\nb\r\nhello\r\n0\r\n\r\n",
    "bare CR in chunk extension": CHUNKED + b"5;a\rb\r\nhello\r\n0\r\n\r\n",
    "NUL in chunk extension": CHUNKED + b"5;a\x00\r\nhello\r\n0\r\n\r\n",
    "chunk size line LF only": CHUNKED + b"5\nhello\r\n0\r\n\r\n",
    "CL in trailers": CHUNKED + b"0\r\nContent-Length: 5\r\n\r\n",
    "TE in trailers": CHUNKED + b"0\r\nTransfer-Encoding: chunked\r\n\r\n",
    "obs-fold in trailers": CHUNKED + b"0\r\nA: b\r\n c\r\n\r\n",
    "bare LF in trailers": CHUNKED + b"0\r\nA: b\n\n",
    "obs-fold": b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n  folded\r\n\r\n",
    "obs-fold tab": b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tfolded\r\n\r\n",
    "first field folded": b"GET / HTTP/1.1\r\n Host: a\r\n\r\n",
    "space before colon": b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
    "tab before colon": b"GET / HTTP/1.1\r\nHost\t: a\r\n\r\n",
    "no colon": b"GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n",
    "empty name": b"GET / HTTP/1.1\r\nHost: a\r\n: value\r\n\r\n",
    "non-token name": b"GET / HTTP/1.1\r\nHost: a\r\nX(y): z\r\n\r\n",
    "non-ASCII name": b"GET / HTTP/1.1\r\nHost: a\r\nX\xe9: z\r\n\r\n",
    "bare CR in value": b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n",
    "bare CR in request line": b"GET /\r HTTP/1.1\r\nHost: a\r\n\r\n",
    "bare CR before CRLF": b"GET / HTTP/1.1\r\nHost: a\r\r\n\r\n",
    "bare LF line": b"GET / HTTP/1.1\nHost: a\r\n\r\n",
    "LF-only head": b"GET / HTTP/1.1\nHost: a\n\n",
    "NUL in value": b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n",
    "NUL in name": b"GET / HTTP/1.1\r\nHost: a\r\nX\x00: b\r\n\r\n",
    "DEL in value": b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n",
    "ESC in value": b"GET / HTTP/1.1\r\nHost: a\r\nX: \x1b[31m\r\n\r\n",
    "VT in value": b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x0b\r\n\r\n",
    "no Host in 1.1": b"GET / HTTP/1.1\r\nAccept: */*\r\n\r\n",
    "two Hosts": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "two Hosts in 1.0": b"GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n",
    "two parts": b"GET /\r\nHost: a\r\n\r\n",
    "four parts": b"GET / x HTTP/1.1\r\nHost: a\r\n\r\n",
    "double space": b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
    "trailing space": b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n",
    "empty method": b" / HTTP/1.1\r\nHost: a\r\n\r\n",
    "bad method token": b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n",
    "empty target": b"GET  HTTP/1.1\r\nHost: a\r\n\r\n",
    "tab in target": b"GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n",
    "NUL in target": b"GET /a\x00b HTTP/1.1\r\nHost: a\r\n\r\n",
    "non-ASCII target": b"GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",
    "lowercase version": b"GET / http/1.1\r\nHost: a\r\n\r\n",
    "bad version": b"GET / HTTP/1\r\nHost: a\r\n\r\n",
    "garbage version": b"GET / FTP/1.1\r\nHost: a\r\n\r\n",
    "EOF inside the head": b"GET / HTTP/1.1\r\nHost",
    "EOF inside a CL body": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhel",
    "EOF inside a chunked body": CHUNKED + b"5\r\nhel",
}


@pytest.mark.parametrize("data", BAD_REQUESTS_400.values(), ids=BAD_REQUESTS_400.keys())
def test_refused_with_400(data: bytes) -> None:
    error = refused(data, eof=data.startswith(b"GET / HTTP/1.1\r\nHost") or b"hel" in data[-3:])
    assert error.status_code == 400, error.reason
    assert error.reason


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (BAD_REQUESTS_400["TE and CL"], "Content-Length and Transfer-Encoding both present"),
        (BAD_REQUESTS_400["obs-fold"], "obs-fold"),
        (BAD_REQUESTS_400["space before colon"], "whitespace between header field name and colon"),
        (BAD_REQUESTS_400["bare CR in value"], "bare CR"),
        (BAD_REQUESTS_400["no Host in 1.1"], "missing Host"),
        (BAD_REQUESTS_400["differing CL"], "more than one Content-Length"),
        (BAD_REQUESTS_400["chunk data without CRLF"], "missing CRLF after chunk data"),
    ],
)
def test_reasons_name_the_rule(data: bytes, reason: str) -> None:
    assert reason in refused(data).reason


@pytest.mark.parametrize(
    "coding", [b"gzip, chunked", b"foo, chunked", b"identity, chunked", b"chunked;x=1, chunked"]
)
def test_unsupported_transfer_coding_is_501(coding: bytes) -> None:
    data = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: " + coding + b"\r\n\r\n"
    assert refused(data).status_code == (400 if coding.startswith(b"chunked") else 501)


@pytest.mark.parametrize("version", [b"HTTP/2.0", b"HTTP/1.2", b"HTTP/0.9", b"HTTP/10.10"])
def test_unsupported_version_is_505(version: bytes) -> None:
    assert refused(b"GET / " + version + b"\r\nHost: a\r\n\r\n").status_code == 505


def test_request_line_too_long_is_414() -> None:
    limits = Limits(max_request_line=100)
    long_target = b"/" + b"a" * 100
    assert (
        refused(b"GET " + long_target + b" HTTP/1.1\r\nHost: a\r\n\r\n", limits).status_code == 414
    )
    # Refused before the line ends, so a client cannot make us buffer it.
    assert refused(b"GET " + long_target, limits).status_code == 414


def test_request_line_at_the_limit_is_accepted() -> None:
    line = b"GET /" + b"a" * 86 + b" HTTP/1.1"
    assert len(line) == 100
    assert isinstance(
        events_of(line + b"\r\nHost: a\r\n\r\n", Limits(max_request_line=100))[0], Request
    )


def test_header_field_too_large_is_431() -> None:
    limits = Limits(max_header_size=50)
    field = b"X: " + b"v" * 48 + b"\r\n"
    assert refused(b"GET / HTTP/1.1\r\nHost: a\r\n" + field + b"\r\n", limits).status_code == 431
    assert refused(b"GET / HTTP/1.1\r\nHost: a\r\n" + field[:-2], limits).status_code == 431


def test_the_field_size_limit_is_not_the_request_lines() -> None:
    """A request line longer than a field may be is judged by its own limit only."""
    limits = Limits(max_header_size=50, max_request_line=200)
    line = b"GET /" + b"a" * 100 + b" HTTP/1.1"
    assert isinstance(events_of(line + b"\r\nHost: a\r\n\r\n", limits)[0], Request)
    field = b"X: " + b"v" * 48 + b"\r\n"
    assert refused(line + b"\r\nHost: a\r\n" + field + b"\r\n", limits).status_code == 431


def test_too_many_fields_is_431() -> None:
    limits = Limits(max_header_count=3)
    fields = b"Host: a\r\n" + b"".join(b"X%d: y\r\n" % i for i in range(2))
    assert isinstance(events_of(b"GET / HTTP/1.1\r\n" + fields + b"\r\n", limits)[0], Request)
    fields += b"X-One-Too-Many: y\r\n"
    assert refused(b"GET / HTTP/1.1\r\n" + fields + b"\r\n", limits).status_code == 431


def test_head_too_large_is_431() -> None:
    limits = Limits(max_head_size=200)
    fields = b"".join(b"X-Field-%d: some value\r\n" % i for i in range(10))
    assert refused(b"GET / HTTP/1.1\r\nHost: a\r\n" + fields + b"\r\n", limits).status_code == 431
    assert refused(b"GET / HTTP/1.1\r\nHost: a\r\n" + fields, limits).status_code == 431


def test_content_length_over_the_limit_is_413_before_the_body() -> None:
    limits = Limits(max_body_size=10)
    error = refused(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", limits)
    assert error.status_code == 413
    assert isinstance(
        events_of(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n", limits)[0], Request
    )


def test_huge_content_length_is_413() -> None:
    data = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n"
    assert refused(data).status_code == 413


def test_chunked_body_over_the_limit_is_413_while_it_passes() -> None:
    limits = Limits(max_body_size=10)
    connection = Connection(limits)
    connection.receive_data(CHUNKED + b"6\r\nhello!\r\n")
    assert isinstance(connection.next_event(), Request)
    assert connection.next_event() == Data(b"hello!")
    connection.receive_data(b"5\r\n")  # 11 bytes announced: refused before the data arrives
    with pytest.raises(RemoteProtocolError) as caught:
        connection.next_event()
    assert caught.value.status_code == 413


def test_chunk_size_line_too_long_is_400() -> None:
    limits = Limits(max_chunk_line=20)
    assert refused(CHUNKED + b"5;" + b"x" * 30 + b"\r\n", limits).status_code == 400
    assert refused(CHUNKED + b"5;" + b"x" * 30, limits).status_code == 400


def test_trailer_section_too_large_is_431() -> None:
    limits = Limits(max_trailer_size=30)
    trailers = b"X: " + b"y" * 40 + b"\r\n"
    assert refused(CHUNKED + b"0\r\n" + trailers + b"\r\n", limits).status_code == 431
    assert refused(CHUNKED + b"0\r\n" + trailers, limits).status_code == 431


def test_expect_100_continue_is_exposed() -> None:
    data = b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n"
    request = events_of(data)[0]
    assert isinstance(request, Request)
    assert request.expects_continue


def test_expect_is_ignored_from_http_10() -> None:
    data = b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n"
    request = events_of(data)[0]
    assert isinstance(request, Request)
    assert not request.expects_continue


def test_eof_between_requests_is_connection_closed() -> None:
    assert events_of(b"", eof=True) == [ConnectionClosed()]
    assert events_of(b"\r\n", eof=True) == [ConnectionClosed()]


@given(
    method=st.sampled_from([b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"PATCH", b"get", b"X"]),
    target=st.binary(min_size=0, max_size=12),
    version=st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/1.2", b"HTTP/2.0", b"http/1.1"]),
    separator=st.sampled_from([b" ", b"  ", b"\t"]),
)
def test_the_usual_request_line_fast_path_agrees_with_the_general_parser(
    method: bytes, target: bytes, version: bytes, separator: bytes
) -> None:
    line = method + separator + target + separator + version
    match = _USUAL_REQUEST_LINE.fullmatch(line)
    try:
        general = _parse_request_line(line)
    except RemoteProtocolError:
        assert match is None
        return
    if match is not None:
        method, target, minor = match.groups()
        assert (method, target, b"1." + minor) == general
