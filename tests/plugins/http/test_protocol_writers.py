"""Response serialisation: framing choice, bodiless responses, header injection."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relays_http._protocol import (
    Connection,
    Data,
    EndOfMessage,
    InformationalResponse,
    LocalProtocolError,
    Request,
    Response,
    State,
    render_error_response,
)
from relays_http._protocol._writers import SENT_IN_FULL


def connection_after(request: bytes) -> Connection:
    """A connection that has received ``request`` completely."""
    connection = Connection()
    connection.receive_data(request)
    assert isinstance(connection.next_event(), Request)
    assert isinstance(connection.next_event(), EndOfMessage)
    return connection


GET_11 = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
GET_10 = b"GET / HTTP/1.0\r\n\r\n"
GET_10_KEEP_ALIVE = b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
HEAD_11 = b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"


def exchange(request: bytes, response: Response, *body: bytes) -> tuple[bytes, Connection]:
    connection = connection_after(request)
    out = connection.send(response)
    for piece in body:
        out += connection.send(Data(piece))
    out += connection.send(EndOfMessage())
    return out, connection


def test_content_length_is_kept() -> None:
    out, connection = exchange(GET_11, Response(200, [(b"Content-Length", b"5")]), b"he", b"llo")
    assert out == b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
    assert connection.our_state is State.DONE
    assert not connection.must_close


def test_chunked_for_http_11_without_length() -> None:
    out, _ = exchange(GET_11, Response(200, [("Content-Type", "text/plain")]), b"hello", b"", b"!")
    assert out == (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n1\r\n!\r\n0\r\n\r\n"
    )


def test_chunked_trailers() -> None:
    connection = connection_after(GET_11)
    connection.send(Response(200))
    assert connection.send(EndOfMessage([(b"X-Checksum", b"abc")])) == (
        b"0\r\nX-Checksum: abc\r\n\r\n"
    )


def test_explicit_chunked_is_not_doubled() -> None:
    out, _ = exchange(GET_11, Response(200, [(b"Transfer-Encoding", b"chunked")]), b"x")
    assert out.count(b"chunked") == 1


def test_close_delimited_for_http_10_without_length() -> None:
    out, connection = exchange(GET_10_KEEP_ALIVE, Response(200), b"hello")
    assert out == b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nhello"
    assert connection.must_close
    assert connection.our_state is State.MUST_CLOSE


def test_http_10_keep_alive_is_confirmed() -> None:
    out, connection = exchange(
        GET_10_KEEP_ALIVE, Response(200, [(b"Content-Length", b"2")]), b"ok"
    )
    assert out == b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nconnection: keep-alive\r\n\r\nok"
    assert not connection.must_close


def test_http_10_without_keep_alive_closes() -> None:
    out, connection = exchange(GET_10, Response(200, [(b"Content-Length", b"2")]), b"ok")
    assert out.endswith(b"connection: close\r\n\r\nok")
    assert connection.must_close


@pytest.mark.parametrize("value", [b"close", b"Close", b"keep-alive, close"])
def test_connection_close_from_the_application(value: bytes) -> None:
    headers = [(b"Connection", value), (b"Content-Length", b"0")]
    out, connection = exchange(GET_11, Response(200, headers))
    assert out == b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nconnection: close\r\n\r\n"
    assert connection.must_close
    assert connection.our_state is State.MUST_CLOSE
    assert connection.their_state is State.MUST_CLOSE


def test_connection_close_from_the_client_is_echoed() -> None:
    out, connection = exchange(
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        Response(200, [(b"Content-Length", b"0")]),
    )
    assert b"connection: close\r\n" in out
    assert connection.must_close


def test_head_computes_framing_but_writes_no_body() -> None:
    out, _ = exchange(HEAD_11, Response(200, [(b"Content-Length", b"5")]), b"hello")
    assert out == b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
    out, _ = exchange(HEAD_11, Response(200), b"hello")
    assert out == b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"


def test_a_whole_answer_to_head_may_state_the_length_get_would_send() -> None:
    response = Response(200, [(b"Content-Length", b"42")])
    out = connection_after(HEAD_11).send_whole(response, b"")
    assert out == b"HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n"
    with pytest.raises(LocalProtocolError, match="does not match"):
        connection_after(GET_11).send_whole(response, b"")


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_statuses(status: int) -> None:
    out, connection = exchange(GET_11, Response(status))
    assert out.endswith(b"\r\n\r\n")
    assert b"transfer-encoding" not in out
    assert not connection.must_close
    connection = connection_after(GET_11)
    connection.send(Response(status))
    assert connection.send(Data(b"")) == b""
    with pytest.raises(LocalProtocolError):
        connection.send(Data(b"x"))


def test_204_drops_content_length_and_304_keeps_it() -> None:
    out, _ = exchange(GET_11, Response(204, [(b"Content-Length", b"0")]))
    assert out == b"HTTP/1.1 204 No Content\r\n\r\n"
    out, _ = exchange(GET_11, Response(304, [(b"Content-Length", b"10")]))
    assert out == b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"


def test_custom_and_unknown_reasons() -> None:
    out, _ = exchange(GET_11, Response(200, [(b"Content-Length", b"0")], reason=b"Fine"))
    assert out.startswith(b"HTTP/1.1 200 Fine\r\n")
    out, _ = exchange(GET_11, Response(299, [(b"Content-Length", b"0")]))
    assert out.startswith(b"HTTP/1.1 299 \r\n")


@pytest.mark.parametrize(
    "headers",
    [
        [(b"X", b"a\r\nSet-Cookie: evil=1")],
        [(b"X", b"a\nb")],
        [(b"X", b"a\rb")],
        [(b"X", b"a\x00b")],
        [(b"X", b"\x1b")],
        [("X", "a\r\n\r\n<html>")],
        [(b"X\r\nY", b"b")],
        [(b"X:Y", b"b")],
        [(b"X Y", b"b")],
        [(b"", b"b")],
        [("X", "caf\u00e9\u2603")],
        [(b"Content-Length", b"-1")],
        [(b"Content-Length", b"1"), (b"Content-Length", b"1")],
        [(b"Transfer-Encoding", b"gzip")],
    ],
)
def test_bad_response_headers_are_refused_and_change_nothing(
    headers: list[tuple[bytes | str, bytes | str]],
) -> None:
    connection = connection_after(GET_11)
    with pytest.raises(LocalProtocolError):
        connection.send(Response(200, headers))
    assert connection.our_state is State.SEND_RESPONSE  # a 500 can still be sent
    assert connection.send(Response(500, [(b"Content-Length", b"0")])).startswith(b"HTTP/1.1 500")


@pytest.mark.parametrize("reason", [b"OK\r\nX: y", b"O\x00K"])
def test_reason_injection_is_refused(reason: bytes) -> None:
    with pytest.raises(LocalProtocolError):
        connection_after(GET_11).send(Response(200, reason=reason))


@pytest.mark.parametrize("status", [99, 100, 199, 1000, "200"])
def test_bad_final_status_codes(status: object) -> None:
    with pytest.raises(LocalProtocolError):
        connection_after(GET_11).send(Response(status))  # type: ignore[arg-type]


def test_latin_1_str_values_are_encoded() -> None:
    out, _ = exchange(GET_11, Response(200, [("X-Name", "caf\u00e9"), ("Content-Length", "0")]))
    assert b"X-Name: caf\xe9\r\n" in out


def test_content_length_is_enforced() -> None:
    connection = connection_after(GET_11)
    connection.send(Response(200, [(b"Content-Length", b"3")]))
    with pytest.raises(LocalProtocolError):
        connection.send(Data(b"four"))
    assert connection.our_state is State.ERROR
    connection = connection_after(GET_11)
    connection.send(Response(200, [(b"Content-Length", b"3")]))
    connection.send(Data(b"ab"))
    with pytest.raises(LocalProtocolError):
        connection.send(EndOfMessage())
    assert connection.must_close


def test_trailers_need_chunked() -> None:
    connection = connection_after(GET_11)
    connection.send(Response(200, [(b"Content-Length", b"0")]))
    with pytest.raises(LocalProtocolError):
        connection.send(EndOfMessage([(b"X", b"y")]))


@pytest.mark.parametrize(
    "trailers", [[(b"Content-Length", b"1")], [(b"X", b"a\r\nb")], [(b"X Y", b"b")]]
)
def test_bad_trailers_are_refused(trailers: list[tuple[bytes, bytes]]) -> None:
    connection = connection_after(GET_11)
    connection.send(Response(200))
    with pytest.raises(LocalProtocolError):
        connection.send(EndOfMessage(trailers))


def test_sending_out_of_order_is_refused() -> None:
    connection = Connection()
    with pytest.raises(LocalProtocolError, match="cannot send Response in state IDLE"):
        connection.send(Response(200))
    connection = connection_after(GET_11)
    with pytest.raises(LocalProtocolError):
        connection.send(Data(b"x"))
    with pytest.raises(LocalProtocolError):
        connection.send(EndOfMessage())
    connection.send(Response(200, [(b"Content-Length", b"0")]))
    with pytest.raises(LocalProtocolError, match="cannot send Response"):
        connection.send(Response(200))
    connection.send(EndOfMessage())
    with pytest.raises(LocalProtocolError):
        connection.send(Data(b"after the end"))
    with pytest.raises(LocalProtocolError):
        connection.send(InformationalResponse(100))


def test_informational_responses() -> None:
    connection = connection_after(GET_11)
    assert connection.send(InformationalResponse(103, [(b"Link", b"</a.css>; rel=preload")])) == (
        b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
    )
    for bad in (InformationalResponse(101), InformationalResponse(200)):
        with pytest.raises(LocalProtocolError):
            connection.send(bad)
    with pytest.raises(LocalProtocolError):
        connection.send(InformationalResponse(103, [(b"Content-Length", b"0")]))
    with pytest.raises(LocalProtocolError, match=r"HTTP/1\.0"):
        connection_after(GET_10).send(InformationalResponse(103))


def test_render_error_response() -> None:
    out = render_error_response(400, "missing Host header")
    assert out == (
        b"HTTP/1.1 400 Bad Request\r\n"
        b"content-type: text/plain; charset=utf-8\r\n"
        b"x-content-type-options: nosniff\r\n"
        b"content-length: 20\r\n"
        b"connection: close\r\n\r\n"
        b"missing Host header\n"
    )
    assert render_error_response(431, "x", head_request=True).endswith(b"close\r\n\r\n")
    assert render_error_response(599, "x").startswith(b"HTTP/1.1 599 \r\n")


# -- send_whole: a response with a body known in full, in one call -----------------------

_NAMES = st.sampled_from(["Content-Type", "X-Thing", "content-type", "Set-Cookie", "Vary"])
_VALUES = st.binary(max_size=12).filter(lambda value: value.isalnum() or not value)


@given(
    request=st.sampled_from([GET_11, GET_10, GET_10_KEEP_ALIVE, HEAD_11]),
    status=st.sampled_from([200, 201, 204, 304, 404, 500]),
    headers=st.lists(st.tuples(_NAMES, _VALUES), max_size=4),
    body=st.binary(max_size=40),
    close=st.booleans(),
    rendered=st.sampled_from([b"", b"server: relays\r\n", b"server: x\r\ndate: today\r\n"]),
)
def test_send_whole_is_response_data_and_end_in_one_call(
    request: bytes,
    status: int,
    headers: list[tuple[str, bytes]],
    body: bytes,
    close: bool,
    rendered: bytes,
) -> None:
    fields: list[tuple[bytes | str, bytes | str]] = list(headers)
    if close:
        fields.append(("Connection", "close"))
    if status in (204, 304):
        body = b""
    response = Response(status, fields, rendered_fields=rendered)
    whole = connection_after(request)
    out = whole.send_whole(response, body)
    stepwise = connection_after(request)
    framed = (
        [*fields, (b"content-length", b"%d" % len(body))] if status not in (204, 304) else fields
    )
    expected = stepwise.send(Response(status, framed, rendered_fields=rendered))
    if body:
        expected += stepwise.send(Data(body))
    expected += stepwise.send(EndOfMessage())
    assert out == expected
    assert (whole.our_state, whole.must_close) == (stepwise.our_state, stepwise.must_close)
    parts = connection_after(request)  # the same response, given by its fields
    assert parts.send_whole_parts(status, fields, body, b"", rendered) == expected
    assert (parts.our_state, parts.must_close) == (stepwise.our_state, stepwise.must_close)


def test_send_whole_sets_content_length_and_ends_the_response() -> None:
    connection = connection_after(GET_11)
    out = connection.send_whole(Response(200, [("Content-Type", "text/plain")]), b"hello")
    assert out == (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\ncontent-length: 5\r\n\r\nhello"
    )
    assert connection.our_state is State.DONE
    connection.start_next_cycle()


def test_send_whole_head_gives_the_length_without_the_body() -> None:
    connection = connection_after(HEAD_11)
    assert connection.send_whole(Response(200), b"hello") == (
        b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"
    )


@pytest.mark.parametrize(
    ("response", "body"),
    [
        (Response(200, [(b"Content-Length", b"4")]), b"hello"),
        (Response(204), b"hello"),
        (Response(200, [(b"X", b"a\r\nSet-Cookie: evil=1")]), b""),
        (Response(200, rendered_fields=b"content-length: 0\r\n"), b""),
        (Response(200, rendered_fields=b"server: relays"), b""),
        (Response(200, rendered_fields=b"server relays\r\n"), b""),
        (Response(200, rendered_fields=b"x: a\nb: c\r\n"), b""),
    ],
)
def test_send_whole_refuses_and_changes_nothing(response: Response, body: bytes) -> None:
    connection = connection_after(GET_11)
    with pytest.raises(LocalProtocolError):
        connection.send_whole(response, body)
    with pytest.raises(LocalProtocolError):
        connection.send_whole_parts(
            response.status_code, response.headers, body, response.reason, response.rendered_fields
        )
    assert connection.our_state is State.SEND_RESPONSE
    assert connection.send_whole(Response(500), b"oops").endswith(b"\r\n\r\noops")


def test_send_whole_out_of_order_is_refused() -> None:
    connection = connection_after(GET_11)
    connection.send_whole(Response(200), b"")
    with pytest.raises(LocalProtocolError):
        connection.send_whole(Response(200), b"")


def test_no_body_bytes_follow_a_whole_response() -> None:
    # Whole responses share one finished writer: nothing after them may touch it.
    for request in (GET_11, GET_10, HEAD_11):
        connection = connection_after(request)
        connection.send_whole(Response(200), b"hello")
        with pytest.raises(LocalProtocolError):
            connection.send(Data(b"more"))
        with pytest.raises(LocalProtocolError):
            connection.send_file_region(3)
    assert SENT_IN_FULL.remaining == 0


def test_rendered_fields_follow_the_status_line() -> None:
    connection = connection_after(GET_11)
    out = connection.send_whole(
        Response(200, [(b"X", b"1")], rendered_fields=b"server: relays\r\ndate: now\r\n"), b""
    )
    assert out == (
        b"HTTP/1.1 200 OK\r\nserver: relays\r\ndate: now\r\nX: 1\r\ncontent-length: 0\r\n\r\n"
    )


def test_content_length_lines_are_remembered_within_a_bound() -> None:
    from relays_http._protocol import _writers

    for length in (0, 5, 5, 70000, *range(2000)):
        connection = connection_after(GET_11)
        out = connection.send_whole(Response(200), b"x" * length)
        assert b"\r\ncontent-length: %d\r\n" % length in out
        assert out.endswith(b"\r\n\r\n" + b"x" * length)
    assert len(_writers._LENGTH_LINES) <= _writers.LENGTH_LINE_CACHE_SIZE
    assert _writers._LENGTH_LINES.get(1999) == b"content-length: 1999\r\n"


@given(
    values=st.lists(
        st.one_of(
            st.text(st.characters(max_codepoint=0x7F), max_size=8),
            st.binary(max_size=8),
        ),
        min_size=1,
        max_size=4,
    ),
    reason=st.sampled_from([b"", b"Fine", b"Bad\r\nX: y"]),
)
def test_injection_is_refused_whether_values_are_remembered_or_not(
    values: list[str | bytes], reason: bytes
) -> None:
    """Values first seen are checked, clean short ones remembered; a response whose
    values are all remembered skips the whole-head check, so twice must agree."""

    def bad(value: str | bytes) -> bool:
        data = value.encode("latin-1") if isinstance(value, str) else value
        return any((byte < 0x20 and byte != 0x09) or byte == 0x7F for byte in data)

    refused = any(bad(value) for value in values) or b"\r" in reason
    fields: list[tuple[bytes | str, bytes | str]] = [
        (f"X-{index}", value) for index, value in enumerate(values)
    ]
    for _ in range(2):
        connection = connection_after(GET_11)
        if refused:
            with pytest.raises(LocalProtocolError):
                connection.send_whole(Response(200, fields, reason=reason), b"")
        else:
            out = connection.send_whole(Response(200, fields, reason=reason), b"")
            assert out.count(b"\r\n") == 3 + len(values)  # status, fields, length, end
