"""The connection: states, keep-alive cycles, pipelining, 100-continue, errors."""

from __future__ import annotations

import pytest

from relays_http._protocol import (
    NEED_DATA,
    PAUSED,
    Connection,
    ConnectionClosed,
    Data,
    EndOfMessage,
    Limits,
    LocalProtocolError,
    RemoteProtocolError,
    Request,
    Response,
    State,
)

GET = b"GET /%d HTTP/1.1\r\nHost: a\r\n\r\n"
EMPTY_OK = Response(200, [(b"Content-Length", b"0")])


def respond(connection: Connection, response: Response = EMPTY_OK) -> bytes:
    return connection.send(response) + connection.send(EndOfMessage())


def test_states_through_one_cycle() -> None:
    connection = Connection()
    assert (connection.their_state, connection.our_state) == (State.IDLE, State.IDLE)
    assert connection.next_event() is NEED_DATA
    connection.receive_data(GET % 1)
    assert isinstance(connection.next_event(), Request)
    assert (connection.their_state, connection.our_state) == (State.SEND_BODY, State.SEND_RESPONSE)
    assert connection.next_event() == EndOfMessage()
    assert connection.their_state is State.DONE
    connection.send(EMPTY_OK)
    assert connection.our_state is State.SEND_BODY
    connection.send(EndOfMessage())
    assert (connection.their_state, connection.our_state) == (State.DONE, State.DONE)
    connection.start_next_cycle()
    assert (connection.their_state, connection.our_state) == (State.IDLE, State.IDLE)


def test_keep_alive_cycles_http_11() -> None:
    connection = Connection()
    for number in range(3):
        connection.receive_data(GET % number)
        request = connection.next_event()
        assert isinstance(request, Request)
        assert request.target == b"/%d" % number
        assert connection.next_event() == EndOfMessage()
        assert connection.next_event() is NEED_DATA
        respond(connection)
        assert not connection.must_close
        connection.start_next_cycle()


def test_keep_alive_cycles_http_10() -> None:
    connection = Connection()
    for _ in range(3):
        connection.receive_data(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        assert isinstance(connection.next_event(), Request)
        assert connection.next_event() == EndOfMessage()
        assert b"connection: keep-alive" in respond(connection)
        connection.start_next_cycle()


@pytest.mark.parametrize(
    ("connection_field", "states"),
    [
        (b"", (State.DONE, State.DONE)),
        (b"Connection: close\r\n", (State.MUST_CLOSE, State.MUST_CLOSE)),
    ],
)
def test_a_response_before_a_bodiless_request_has_ended(
    connection_field: bytes, states: tuple[State, State]
) -> None:
    # The response may go out before the request's EndOfMessage is pulled; the
    # request then ends with both sides settled as after the usual order.
    connection = Connection()
    connection.receive_data(b"GET / HTTP/1.1\r\nHost: a\r\n" + connection_field + b"\r\n")
    assert isinstance(connection.next_event(), Request)
    connection.send_whole(Response(200), b"ok")
    assert connection.next_event() == EndOfMessage()
    assert (connection.our_state, connection.their_state) == states


@pytest.mark.parametrize("streamed", [False, True])
def test_a_response_before_the_request_body_ended_closes(streamed: bool) -> None:
    # A handler that streams the body may answer before reading it all (a refusal):
    # the rest is never parsed, so the response says close, whole or streamed.
    connection = Connection()
    connection.receive_data(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
    assert isinstance(connection.next_event(), Request)
    assert connection.next_event() == Data(b"abc")
    if streamed:
        data = connection.send(Response(413, [(b"transfer-encoding", b"chunked")]))
    else:
        data = connection.send_whole(Response(413), b"no")
    assert b"connection: close\r\n" in data.lower()
    assert connection.must_close


def test_no_next_cycle_after_close() -> None:
    connection = Connection()
    connection.receive_data(b"GET / HTTP/1.0\r\n\r\n" + GET % 2)
    assert isinstance(connection.next_event(), Request)
    assert connection.next_event() == EndOfMessage()
    assert connection.their_state is State.MUST_CLOSE
    assert connection.next_event() is PAUSED  # the extra bytes are never parsed
    respond(connection)
    assert connection.must_close
    with pytest.raises(LocalProtocolError):
        connection.start_next_cycle()
    assert connection.trailing_data == (GET % 2, False)


def test_start_next_cycle_needs_both_sides_done() -> None:
    connection = Connection()
    connection.receive_data(GET % 1)
    connection.next_event()
    with pytest.raises(LocalProtocolError):
        connection.start_next_cycle()
    connection.next_event()
    with pytest.raises(LocalProtocolError):
        connection.start_next_cycle()


def test_pipelined_requests_wait_for_their_turn() -> None:
    connection = Connection()
    connection.receive_data(b"".join(GET % number for number in range(3)))
    responses = []
    for number in range(3):
        request = connection.next_event()
        assert isinstance(request, Request)
        assert request.target == b"/%d" % number
        assert connection.next_event() == EndOfMessage()
        if number < 2:
            assert connection.next_event() is PAUSED
            assert connection.next_event() is PAUSED  # until the response is done
        responses.append(respond(connection, Response(200, [(b"X-N", b"%d" % number)])))
        connection.start_next_cycle()
    assert connection.next_event() is NEED_DATA
    assert [response.split(b"\r\n")[1] for response in responses] == [
        b"X-N: 0",
        b"X-N: 1",
        b"X-N: 2",
    ]


def test_pipelined_request_body_is_not_read_early() -> None:
    connection = Connection()
    second = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
    connection.receive_data(GET % 1 + second)
    connection.next_event()
    connection.next_event()
    assert connection.next_event() is PAUSED
    assert connection.trailing_data == (second, False)


def test_eof_between_requests() -> None:
    connection = Connection()
    connection.receive_data(GET % 1)
    connection.receive_data(b"")
    assert isinstance(connection.next_event(), Request)
    assert connection.next_event() == EndOfMessage()
    assert connection.next_event() == ConnectionClosed()
    assert connection.their_state is State.CLOSED
    assert connection.must_close
    assert connection.next_event() == ConnectionClosed()
    respond(connection)  # a half-closed client can still get its response
    assert connection.our_state is State.MUST_CLOSE


def test_data_after_eof_is_misuse() -> None:
    connection = Connection()
    connection.receive_data(b"")
    with pytest.raises(LocalProtocolError):
        connection.receive_data(b"x")


def test_sending_connection_closed() -> None:
    connection = Connection()
    assert connection.send(ConnectionClosed()) == b""
    assert connection.our_state is State.CLOSED
    assert connection.must_close


def test_send_failed() -> None:
    connection = Connection()
    connection.send_failed()
    assert connection.our_state is State.ERROR
    assert connection.must_close


def test_body_events_in_small_pieces() -> None:
    connection = Connection()
    connection.receive_data(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\nab")
    assert isinstance(connection.next_event(), Request)
    assert connection.next_event() == Data(b"ab")
    assert connection.next_event() is NEED_DATA
    connection.receive_data(b"cdefGET")
    assert connection.next_event() == Data(b"cdef")
    assert connection.next_event() == EndOfMessage()
    assert connection.next_event() is PAUSED


# -- 100-continue ---------------------------------------------------------------

EXPECT = b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"


def test_continue_is_sent_once_when_the_body_is_first_asked_for() -> None:
    connection = Connection()
    connection.receive_data(EXPECT)
    request = connection.next_event()
    assert isinstance(request, Request)
    assert request.expects_continue
    assert connection.client_is_waiting_for_100_continue
    assert connection.next_event() is NEED_DATA
    assert connection.send_continue() == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert connection.send_continue() == b""
    connection.receive_data(b"hello")
    assert connection.next_event() == Data(b"hello")
    assert connection.next_event() == EndOfMessage()
    respond(connection)
    assert not connection.must_close


def test_no_continue_once_the_body_arrives() -> None:
    connection = Connection()
    connection.receive_data(EXPECT + b"he")
    connection.next_event()
    assert connection.next_event() == Data(b"he")
    assert not connection.client_is_waiting_for_100_continue
    assert connection.send_continue() == b""


def test_no_continue_after_a_final_response_and_the_connection_closes() -> None:
    connection = Connection()
    connection.receive_data(EXPECT)
    connection.next_event()
    out = connection.send(Response(413, [(b"Content-Length", b"0")]))
    assert b"connection: close" in out  # the client may or may not send its body
    assert connection.send_continue() == b""
    connection.send(EndOfMessage())
    assert connection.must_close


def test_no_continue_without_a_body_or_expectation() -> None:
    for head in (
        b"GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n",
    ):
        connection = Connection()
        connection.receive_data(head)
        connection.next_event()
        assert connection.send_continue() == b""


def test_informational_100_also_clears_the_wait() -> None:
    from relays_http._protocol import InformationalResponse

    connection = Connection()
    connection.receive_data(EXPECT)
    connection.next_event()
    connection.send(InformationalResponse(100))
    assert not connection.client_is_waiting_for_100_continue


# -- errors ---------------------------------------------------------------------


def test_send_error_after_a_bad_request() -> None:
    connection = Connection()
    connection.receive_data(b"GET / HTTP/1.1\r\n\r\n")
    with pytest.raises(RemoteProtocolError) as caught:
        connection.next_event()
    out = connection.send_error(caught.value)
    assert out.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert out.endswith(b"\r\n\r\nmissing Host header (required in HTTP/1.1)\n")
    assert connection.our_state is State.MUST_CLOSE
    assert connection.must_close
    assert connection.send_error(caught.value) == b""  # only once


def test_send_error_during_the_body_before_the_response() -> None:
    connection = Connection()
    connection.receive_data(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
    )
    assert isinstance(connection.next_event(), Request)
    with pytest.raises(RemoteProtocolError) as caught:
        connection.next_event()
    assert connection.send_error(caught.value).startswith(b"HTTP/1.1 400 ")


def test_no_error_response_once_a_response_started() -> None:
    connection = Connection()
    connection.receive_data(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nab")
    connection.next_event()
    connection.next_event()
    connection.send(Response(200))
    connection.receive_data(b"")
    with pytest.raises(RemoteProtocolError) as caught:
        connection.next_event()
    assert connection.send_error(caught.value) == b""
    assert connection.must_close


def test_error_on_head_request_has_no_body() -> None:
    connection = Connection()
    connection.receive_data(b"HEAD / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nab")
    connection.next_event()
    connection.next_event()
    connection.receive_data(b"")
    with pytest.raises(RemoteProtocolError) as caught:
        connection.next_event()
    assert connection.send_error(caught.value).endswith(b"connection: close\r\n\r\n")


def test_bare_lf_head_is_refused_without_waiting_for_more() -> None:
    connection = Connection()
    connection.receive_data(b"GET / HTTP/1.1\nHost: a\n\n")
    with pytest.raises(RemoteProtocolError, match="bare LF"):
        connection.next_event()


def test_head_limits_apply_to_an_unfinished_head_fed_bytewise() -> None:
    from relays_http._protocol import Limits

    connection = Connection(Limits(max_head_size=300, max_header_size=400))
    connection.receive_data(b"GET / HTTP/1.1\r\nHost: a\r\n")
    with pytest.raises(RemoteProtocolError) as caught:  # noqa: PT012
        for _ in range(400):
            assert connection.next_event() is NEED_DATA
            connection.receive_data(b"X: y\r\n"[_ % 6 : _ % 6 + 1])
    assert caught.value.status_code == 431


def test_bodies_without_trailers_end_with_one_shared_immutable_event() -> None:
    connection = Connection()
    ends = []
    for request in (GET % 1, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nab"):
        connection.receive_data(request)
        while (event := connection.next_event()) is not NEED_DATA:
            if type(event) is EndOfMessage:
                ends.append(event)
        respond(connection)
        connection.start_next_cycle()
    assert ends[0] is ends[1]
    assert ends[0] == EndOfMessage()
    assert ends[0].trailers == ()  # a tuple: nobody can add to the shared one


BODY_TOO_LARGE = b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 90\r\n\r\n"


def refusal(*pieces: bytes, limits: Limits | None = None) -> RemoteProtocolError:
    """The error that feeding *pieces* one after the other ends with."""
    connection = Connection(limits)
    try:
        for piece in pieces:
            connection.receive_data(piece)
            while connection.next_event() not in (NEED_DATA, PAUSED):
                pass
    except RemoteProtocolError as error:
        return error
    raise AssertionError(f"{pieces!r} were accepted")


@pytest.mark.parametrize(
    ("pieces", "limits", "line"),
    [
        ((b"GET /a?b HTTP/1.1\r\n\r\n",), None, b"GET /a?b HTTP/1.1"),  # no Host
        ((b"\r\nPUT /x HTTP/1.0\r\nBad Name: y\r\n\r\n",), None, b"PUT /x HTTP/1.0"),
        ((BODY_TOO_LARGE,), Limits(max_body_size=10), b"GET / HTTP/1.1"),
        ((b"GET / HTTP/1.1\r\nX: ", b"y" * 200), Limits(max_head_size=100), b"GET / HTTP/1.1"),
        ((b"GET / HTTP/1.1\r\nX: y\n\n",), None, b"GET / HTTP/1.1"),  # bare LF, head not ended
        ((b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n",), None, None),  # a bad request line
        ((b"GET / HTTP/2.0\r\nHost: a\r\n\r\n",), None, None),  # 505
        ((b"GET /" + b"a" * 200 + b" HTTP/1.1\r\n\r\n",), Limits(max_request_line=100), None),
        ((b"GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n",), None, None),  # a control character
        ((b"GET / HTT",), Limits(max_head_size=8), None),  # the line never ended
    ],
)  # fmt: skip
def test_a_refused_head_keeps_its_request_line_when_it_was_valid(
    pieces: tuple[bytes, ...], limits: Limits | None, line: bytes | None
) -> None:
    assert refusal(*pieces, limits=limits).request_line == line


def test_the_request_line_is_kept_when_the_head_is_cut_by_eof_and_on_every_later_call() -> None:
    connection = Connection()
    connection.receive_data(b"GET /x HTTP/1.1\r\nHost: a\r\n")
    assert connection.next_event() is NEED_DATA
    connection.receive_data(b"")
    for _ in range(2):
        with pytest.raises(RemoteProtocolError) as raised:
            connection.next_event()
        assert raised.value.request_line == b"GET /x HTTP/1.1"


def test_errors_in_a_body_carry_no_request_line() -> None:
    chunked = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
    assert refusal(chunked).request_line is None
