"""The client role of the sans-IO core: requests out, responses in, with examples."""

from __future__ import annotations

import pytest

from relays_http._protocol import NEED_DATA, Data, EndOfMessage, LocalProtocolError, State
from relays_http._protocol import RemoteProtocolError as CoreRemoteProtocolError
from relays_http._protocol._client import (
    ClientConnection,
    ResponseHead,
    ResponseLimits,
    ServerDisconnected,
)

HOST = [(b"Host", b"example.test")]


def exchange(
    response: bytes,
    method: bytes = b"GET",
    limits: ResponseLimits | None = None,
    eof: bool = False,
) -> tuple[ClientConnection, list[object]]:
    """Send a bodiless request, feed ``response``, return every event up to NEED_DATA."""
    connection = ClientConnection(limits)
    connection.start_request(method, b"/", HOST)
    connection.end_request()
    connection.receive_data(response)
    if eof:
        connection.receive_data(b"")
    events: list[object] = []
    while True:
        event = connection.next_event()
        if event is NEED_DATA:
            return connection, events
        events.append(event)
        if type(event) is EndOfMessage:
            return connection, events


def body_of(events: list[object]) -> bytes:
    return b"".join(event.data for event in events if type(event) is Data)


# -- requests -----------------------------------------------------------------------


def test_a_request_head_is_framed_by_its_length() -> None:
    connection = ClientConnection()
    head = connection.start_request(b"POST", b"/x?y=1", HOST, content_length=5)
    assert head == b"POST /x?y=1 HTTP/1.1\r\nHost: example.test\r\ncontent-length: 5\r\n\r\n"
    assert connection.send_data(b"hello") == b"hello"
    assert connection.end_request() == b""
    assert connection.our_state is State.DONE


def test_a_body_of_unknown_length_is_chunked() -> None:
    connection = ClientConnection()
    head = connection.start_request(b"PUT", b"/", HOST, content_length=None)
    assert head.endswith(b"transfer-encoding: chunked\r\n\r\n")
    assert connection.send_data(b"abc") == b"3\r\nabc\r\n"
    assert connection.send_data(b"") == b""
    assert connection.end_request() == b"0\r\n\r\n"


def test_a_get_without_body_sends_no_length() -> None:
    head = ClientConnection().start_request(b"GET", b"/", HOST)
    assert head == b"GET / HTTP/1.1\r\nHost: example.test\r\n\r\n"


@pytest.mark.parametrize(
    ("method", "target", "headers", "message"),
    [
        (b"G T", b"/", HOST, "method"),
        (b"GET", b"/a b", HOST, "target"),
        (b"GET", b"/", [], "Host"),
        (b"GET", b"/", HOST * 2, "Host"),
        (b"GET", b"/", [*HOST, (b"Content-Length", b"3")], "content_length"),
        (b"GET", b"/", [*HOST, (b"Transfer-Encoding", b"chunked")], "content_length"),
        (b"GET", b"/", [*HOST, (b"X", b"a\r\nInjected: 1")], "CR, LF"),
        (b"GET", b"/", [*HOST, (b"Bad Name", b"1")], "header name"),
    ],
)
def test_bad_requests_are_refused_with_nothing_changed(
    method: bytes, target: bytes, headers: list[tuple[bytes, bytes]], message: str
) -> None:
    connection = ClientConnection()
    with pytest.raises(LocalProtocolError, match=message):
        connection.start_request(method, target, headers)
    assert connection.our_state is State.IDLE


def test_more_body_than_announced_is_refused() -> None:
    connection = ClientConnection()
    connection.start_request(b"POST", b"/", HOST, content_length=2)
    with pytest.raises(LocalProtocolError):
        connection.send_data(b"abc")


# -- responses ----------------------------------------------------------------------


def test_a_content_length_response() -> None:
    connection, events = exchange(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello")
    head = events[0]
    assert isinstance(head, ResponseHead)
    assert (head.status_code, head.reason, head.http_version) == (200, b"OK", b"1.1")
    assert head.get(b"x-a") == b"b"
    assert head.get_all(b"content-length") == [b"5"]
    assert body_of(events) == b"hello"
    assert connection.reusable
    connection.start_next_cycle()
    assert connection.our_state is connection.their_state is State.IDLE


def test_a_chunked_response_with_trailers() -> None:
    connection, events = exchange(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nChecksum: 1\r\n\r\n"
    )
    assert body_of(events) == b"abcde"
    end = events[-1]
    assert isinstance(end, EndOfMessage)
    assert list(end.trailers) == [(b"checksum", b"1")]
    assert connection.reusable


def test_a_body_without_length_runs_until_close() -> None:
    connection, events = exchange(b"HTTP/1.1 200 OK\r\n\r\nall of it", eof=True)
    assert body_of(events) == b"all of it"
    assert type(events[-1]) is EndOfMessage
    assert not connection.reusable


def test_until_close_without_eof_waits() -> None:
    connection, events = exchange(b"HTTP/1.1 200 OK\r\n\r\npart")
    assert body_of(events) == b"part"
    assert connection.next_event() is NEED_DATA
    connection.receive_data(b"")
    assert type(connection.next_event()) is EndOfMessage


@pytest.mark.parametrize("status", [204, 304])
def test_bodiless_statuses_end_at_the_head(status: int) -> None:
    connection, events = exchange(b"HTTP/1.1 %d X\r\nContent-Length: 10\r\n\r\n" % status)
    assert [type(event) for event in events] == [ResponseHead, EndOfMessage]
    assert connection.reusable


def test_a_response_to_head_has_no_body() -> None:
    connection, events = exchange(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", method=b"HEAD")
    assert [type(event) for event in events] == [ResponseHead, EndOfMessage]
    assert connection.reusable


def test_interim_responses_come_before_the_final_one() -> None:
    _, events = exchange(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"
    )
    statuses = [event.status_code for event in events if isinstance(event, ResponseHead)]
    assert statuses == [100, 103, 200]
    assert body_of(events) == b"x"


def test_too_many_interim_responses_are_refused() -> None:
    with pytest.raises(CoreRemoteProtocolError, match="max_informational"):
        exchange(
            b"HTTP/1.1 102 Processing\r\n\r\n" * 3, limits=ResponseLimits(max_informational=2)
        )


@pytest.mark.parametrize(
    ("response", "keep_alive"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", True),
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", False),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", False),
        (b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", True),
    ],
)
def test_keep_alive_follows_version_and_connection(response: bytes, keep_alive: bool) -> None:
    connection, events = exchange(response)
    assert isinstance(events[0], ResponseHead)
    assert events[0].keep_alive is keep_alive
    assert connection.reusable is keep_alive


def test_our_connection_close_is_honoured() -> None:
    connection = ClientConnection()
    connection.start_request(b"GET", b"/", [*HOST, (b"Connection", b"close")])
    connection.end_request()
    connection.receive_data(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    head = connection.next_event()
    assert isinstance(head, ResponseHead)
    assert not head.keep_alive
    assert type(connection.next_event()) is EndOfMessage
    assert connection.our_state is connection.their_state is State.MUST_CLOSE


def test_bytes_after_the_response_stay_and_spoil_reuse() -> None:
    connection, events = exchange(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxEXTRA")
    assert body_of(events) == b"x"
    assert connection.trailing_data == (b"EXTRA", False)
    assert not connection.reusable
    with pytest.raises(LocalProtocolError, match="cannot reuse"):
        connection.start_next_cycle()


def test_a_response_may_come_before_the_request_body_is_sent() -> None:
    connection = ClientConnection()
    connection.start_request(b"POST", b"/", HOST, content_length=100)
    connection.receive_data(b"HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\n\r\n")
    head = connection.next_event()
    assert isinstance(head, ResponseHead)
    assert head.status_code == 413
    assert type(connection.next_event()) is EndOfMessage
    connection.abandon_request()
    assert not connection.reusable


def test_eof_before_any_byte_is_a_disconnect() -> None:
    with pytest.raises(ServerDisconnected):
        exchange(b"", eof=True)
    connection = ClientConnection()
    connection.start_request(b"GET", b"/", HOST)
    connection.receive_data(b"")
    assert not connection.response_started
    with pytest.raises(ServerDisconnected):
        connection.next_event()
    with pytest.raises(ServerDisconnected):  # and again, from ERROR
        connection.next_event()


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", "middle of the response body"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab", "middle"),
        (b"HTTP/1.1 200 OK\r\nContent-Le", "middle of a response head"),
    ],
)
def test_eof_mid_response_is_an_error(response: bytes, message: str) -> None:
    with pytest.raises(CoreRemoteProtocolError, match=message) as caught:
        exchange(response, eof=True)
    assert type(caught.value) is not ServerDisconnected


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (b"HTTP/1.1 2000 OK\r\n\r\n", "malformed status line"),
        (b"HTTP/1.1 20 OK\r\n\r\n", "malformed status line"),
        (b"ICY 200 OK\r\n\r\n", "malformed status line"),
        (b"HTTP/2.0 200 OK\r\n\r\n", "version"),
        (b"HTTP/1.1 099 Low\r\n\r\n", "below 100"),
        (b"HTTP/1.1 101 Switching\r\nUpgrade: x\r\n\r\n", "101"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", "both"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\n", "Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "Content-Length"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "chunked"),
        (b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "HTTP/1.0"),
        (b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", "obs-fold"),
        (b"HTTP/1.1 200 OK\nX: a\n\n", "bare LF"),
        (b"HTTP/1.1 200 OK\r\nX\x00: a\r\n\r\n", "control"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "chunk size"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc", "CRLF"),
    ],
)
def test_bad_responses_raise_the_named_error(response: bytes, message: str) -> None:
    with pytest.raises(CoreRemoteProtocolError, match=message):
        exchange(response)


@pytest.mark.parametrize(
    ("response", "limits", "message"),
    [
        (b"HTTP/1.1 200 " + b"x" * 100, ResponseLimits(max_status_line=50), "status line"),
        (b"HTTP/1.1 200 OK\r\nX: " + b"y" * 100, ResponseLimits(max_header_size=50), "field"),
        (b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 20, ResponseLimits(max_head_size=50), "head"),
        (
            b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 5 + b"\r\n",
            ResponseLimits(max_header_count=3),
            "max_header_count",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n",
            ResponseLimits(max_body_size=10),
            "max_body_size",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n",
            ResponseLimits(max_body_size=10),
            "max_body_size",
        ),
        (
            b"HTTP/1.1 200 OK\r\n\r\n" + b"z" * 11,
            ResponseLimits(max_body_size=10),
            "max_body_size",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"0" * 100,
            ResponseLimits(max_chunk_line=50),
            "chunk size line",
        ),
    ],
)
def test_limits_are_enforced_as_bytes_arrive(
    response: bytes, limits: ResponseLimits, message: str
) -> None:
    with pytest.raises(CoreRemoteProtocolError, match=message):
        exchange(response, limits=limits)


def test_limits_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="max_body_size"):
        ResponseLimits(max_body_size=0)


def test_unsolicited_bytes_wait_until_a_request_is_sent() -> None:
    connection = ClientConnection()
    connection.receive_data(b"HTTP/1.1 200 OK\r\n\r\n")
    assert connection.next_event() is NEED_DATA
    assert connection.their_state is State.IDLE


def test_sending_out_of_order_is_refused() -> None:
    connection = ClientConnection()
    with pytest.raises(LocalProtocolError):
        connection.send_data(b"x")
    with pytest.raises(LocalProtocolError):
        connection.end_request()
    connection.start_request(b"GET", b"/", HOST)
    with pytest.raises(LocalProtocolError):
        connection.start_request(b"GET", b"/", HOST)
    connection.receive_data(b"")
    with pytest.raises(LocalProtocolError, match="after EOF"):
        connection.receive_data(b"x")
