"""Asgi hosting raw ASGI apps: the http scope, bodies, streaming, and apps that misbehave."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from relays import Component, handler
from relays_asgi import Asgi, AsgiLimits, AsgiProtocolError, ClientDisconnected
from relays_asgi._http import HttpCycle
from relays_http import Request, Response
from relays_http.testing import Client, memory_server

Scope = dict[str, Any]


async def echo_scope(scope: Scope, receive: Any, send: Any) -> None:
    """Answers with the scope (bytes as text) and the body it received, as JSON."""
    if scope["type"] != "http":
        return
    messages = [await receive()]
    while messages[-1].get("more_body"):
        messages.append(await receive())
    shown = {
        key: value
        for key, value in scope.items()
        if key not in ("headers", "raw_path", "query_string", "state")
    }
    shown["headers"] = [[name.decode(), value.decode()] for name, value in scope["headers"]]
    shown["raw_path"] = scope["raw_path"].decode()
    shown["query_string"] = scope["query_string"].decode()
    shown["body"] = b"".join(message["body"] for message in messages).decode()
    shown["more_body"] = [message["more_body"] for message in messages]
    shown["header_types"] = sorted(
        {type(part).__name__ for pair in scope["headers"] for part in pair}
    )
    data = json.dumps(shown).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": data})


async def test_the_http_scope_is_complete() -> None:
    server, transport = memory_server(Asgi(echo_scope))
    async with server:
        client = Client(transport, peer=("127.0.0.1", 4321))
        status, headers, body = await client.post(
            "/a%20b/c%2Fd?x=1&y=%20", body=b"payload", headers={"X-Thing": "yes"}
        )
    assert status == 200
    assert headers["content-type"] == "application/json"
    scope = json.loads(body)
    assert scope["type"] == "http"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.4"}
    assert (scope["method"], scope["http_version"], scope["scheme"]) == ("POST", "1.1", "http")
    assert scope["path"] == "/a b/c/d"
    assert scope["raw_path"] == "/a%20b/c%2Fd"
    assert scope["query_string"] == "x=1&y=%20"
    assert scope["root_path"] == ""
    assert scope["client"] == ["127.0.0.1", 4321]
    assert scope["server"] is not None
    assert ["x-thing", "yes"] in scope["headers"]
    assert ["host", "test"] in scope["headers"]
    assert all(name == name.lower() for name, _ in scope["headers"])
    assert scope["header_types"] == ["bytes"]
    assert scope["body"] == "payload"
    # Streamed by relays-http as it arrives: chunks with more_body, then the end.
    assert scope["more_body"][-1] is False
    assert all(scope["more_body"][:-1])
    assert scope["extensions"] == {"http.response.trailers": {}}


class Site(Component):
    channel = "web"

    @handler("request")
    def _on_request(self, request: Request, response: Response) -> str:
        return f"relays at {request.path}"


async def test_a_mount_sets_root_path_and_leaves_other_paths_to_the_tree() -> None:
    server, transport = memory_server(Asgi(echo_scope, "/api/"), Site())
    async with server:
        client = Client(transport)
        scope = json.loads((await client.get("/api/items/1")).body)
        assert (scope["root_path"], scope["path"]) == ("/api", "/api/items/1")
        assert json.loads((await client.get("/api")).body)["path"] == "/api"
        assert (await client.get("/apiary")).body == b"relays at /apiary"
        assert (await client.get("/")).body == b"relays at /"


async def test_an_asgi2_double_callable_is_served() -> None:
    class Legacy:
        def __init__(self, scope: Scope) -> None:
            self.scope = scope

        async def __call__(self, receive: Any, send: Any) -> None:
            if self.scope["type"] != "http":
                raise RuntimeError("http only")
            await send({"type": "http.response.start", "status": 201, "headers": []})
            await send({"type": "http.response.body", "body": b"asgi2"})

    server, transport = memory_server(Asgi(Legacy))
    async with server:
        assert (await Client(transport).get("/")).body == b"asgi2"


async def test_a_streamed_response_is_sent_chunked_as_the_app_sends_it() -> None:
    async def stream(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for index in range(5):
            await send({"type": "http.response.body", "body": b"%d," % index, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    server, transport = memory_server(Asgi(stream))
    async with server:
        client = Client(transport)
        for _ in range(2):  # the connection is kept alive after a stream
            status, headers, body = await client.get("/")
            assert (status, body) == (200, b"0,1,2,3,4,")
            assert headers["transfer-encoding"] == "chunked"


async def test_a_streamed_response_with_a_content_length_is_framed_by_it() -> None:
    async def sized(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers = [(b"content-length", b"6"), (b"connection", b"keep-alive")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"abc", "more_body": True})
        await send({"type": "http.response.body", "body": b"def"})

    server, transport = memory_server(Asgi(sized))
    async with server:
        client = Client(transport)
        status, headers, body = await client.get("/")
        assert (status, body, headers["content-length"]) == (200, b"abcdef", "6")
        assert "transfer-encoding" not in headers
        status, headers, body = await client.request("HEAD", "/")
        assert (status, body) == (200, b"")


async def test_send_waits_for_the_client_to_take_each_chunk() -> None:
    log: list[tuple[str, int]] = []
    cycle = HttpCycle(Request("GET", "/"), buffered_chunks=1)

    async def producer() -> None:
        await cycle.send({"type": "http.response.start", "status": 200, "headers": []})
        for index in range(10):
            chunk = b"%d" % index
            await cycle.send({"type": "http.response.body", "body": chunk, "more_body": True})
            log.append(("sent", index))
        await cycle.send({"type": "http.response.body", "body": b""})

    task = asyncio.create_task(producer())
    head = await cycle.head
    async for chunk in cycle.stream(head.body):
        log.append(("got", int(chunk)))
    await task
    # With one chunk of room, send(n) returns only once chunk n was taken: the app
    # never runs ahead of the writer by more than the room it was given.
    for index in range(1, 10):
        assert log.index(("got", index)) < log.index(("sent", index))
    assert [index for kind, index in log if kind == "got"] == list(range(10))


async def test_after_the_response_receive_says_disconnect_and_background_work_goes_on() -> None:
    finished = asyncio.Event()
    seen: list[dict[str, Any]] = []

    async def background(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})
        seen.append(await receive())
        finished.set()

    server, transport = memory_server(Asgi(background))
    async with server:
        assert (await Client(transport).get("/")).body == b"done"
        await finished.wait()
    assert seen == [{"type": "http.disconnect"}]


async def test_a_client_gone_mid_stream_makes_send_raise_client_disconnected() -> None:
    raised: asyncio.Future[BaseException] = asyncio.get_running_loop().create_future()

    async def endless(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            while True:
                await send({"type": "http.response.body", "body": b"more", "more_body": True})
        except OSError as error:
            raised.set_result(error)
            raise

    server, transport = memory_server(Asgi(endless, limits=AsgiLimits(buffered_chunks=1)))
    async with server:
        client = Client(transport)
        client.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        await client.connection.wait(lambda data: b"more" in data)
        client.close()
        assert isinstance(await raised, ClientDisconnected)


def bad_app(path_to_failure: dict[str, Any]) -> Any:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        failure = path_to_failure[scope["path"]]
        await failure(send)

    return app


async def start_twice(send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.start", "status": 200, "headers": []})


async def raise_before_start(send: Any) -> None:
    raise RuntimeError("secret failure before start")


async def raise_after_start(send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    raise RuntimeError("failure after start")


async def never_respond(send: Any) -> None:
    return


async def start_only(send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})


async def wrong_message(send: Any) -> None:
    await send({"type": "http.response.begin", "status": 200})


async def bad_status(send: Any) -> None:
    await send({"type": "http.response.start", "status": "200", "headers": []})


async def bad_headers(send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [("a", "b")]})


FAILURES_BEFORE_HEAD = {
    "/twice": start_twice,
    "/before": raise_before_start,
    "/after-start": raise_after_start,
    "/never": never_respond,
    "/start-only": start_only,
    "/wrong": wrong_message,
    "/status": bad_status,
    "/headers": bad_headers,
}


@pytest.mark.parametrize("path", sorted(FAILURES_BEFORE_HEAD))
async def test_an_app_failing_before_its_head_went_out_is_a_500_logged_once(
    path: str, caplog: pytest.LogCaptureFixture
) -> None:
    server, transport = memory_server(Asgi(bad_app(FAILURES_BEFORE_HEAD)))
    async with server:
        client = Client(transport)
        with caplog.at_level(logging.ERROR):
            status, _, body = await client.get(path)
        assert status == 500
        assert b"secret" not in body
        # The server goes on, on the same connection.
        assert (await client.get("/wrong")).status == 500
    failures = [record for record in caplog.records if record.name == "relays.asgi"]
    assert len(failures) == 2
    assert "before its response started" in failures[0].getMessage()


async def test_an_app_failing_mid_stream_cuts_the_response_short(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def midway(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"start", "more_body": True})
        if scope["path"] == "/fail":
            raise RuntimeError("failure mid-stream")
        await send({"type": "http.response.body", "body": b""})

    server, transport = memory_server(Asgi(midway))
    async with server:
        client = Client(transport)
        with caplog.at_level(logging.ERROR):
            client.send(b"GET /fail HTTP/1.1\r\nHost: t\r\n\r\n")
            received = await client.wait_closed()
        assert b"5\r\nstart\r\n" in received
        assert not received.endswith(b"0\r\n\r\n")
        assert (await Client(transport).get("/")).body == b"start"  # the server goes on
    logged = [
        record
        for record in caplog.records
        if record.exc_info and "failure mid-stream" in str(record.exc_info[1])
    ]
    assert len(logged) == 1


async def test_an_app_sending_after_its_response_was_complete_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failed = asyncio.Event()

    async def again(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"whole"})
        if scope["path"] != "/again":
            return
        try:
            await send({"type": "http.response.body", "body": b"more"})
        except AsgiProtocolError:
            failed.set()
            raise

    server, transport = memory_server(Asgi(again))
    async with server:
        client = Client(transport)
        with caplog.at_level(logging.ERROR):
            assert (await client.get("/again")).body == b"whole"
            await failed.wait()
        assert (await client.get("/")).body == b"whole"
    logged = [record for record in caplog.records if record.name == "relays.asgi"]
    assert len(logged) == 1
    assert "after its response was sent" in logged[0].getMessage()


async def test_an_app_that_never_answers_is_cancelled_and_answered_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cancelled = asyncio.Event()

    async def stuck(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    limits = AsgiLimits(response_start_timeout=0.05)
    server, transport = memory_server(Asgi(stuck, limits=limits))
    async with server:
        with caplog.at_level(logging.ERROR):
            assert (await Client(transport).get("/")).status == 500
        await cancelled.wait()
    assert "response_start_timeout" in caplog.text


async def test_a_head_request_keeps_the_apps_content_length() -> None:
    async def sized(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers = [(b"content-length", b"11"), (b"content-type", b"text/plain")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    server, transport = memory_server(Asgi(sized))
    async with server:
        status, headers, body = await Client(transport).request("HEAD", "/")
    assert (status, headers["content-length"], body) == (200, "11", b"")


def test_what_is_not_an_asgi_app_is_refused_with_a_message_that_says_why() -> None:
    def wsgi(environ: Any, start_response: Any) -> list[bytes]:
        return []

    with pytest.raises(TypeError, match="does not look like an ASGI application"):
        Asgi(wsgi)
    with pytest.raises(ValueError, match="starts with '/'"):
        Asgi(echo_scope, "api")


async def test_a_body_streams_to_the_app_as_it_reads_it() -> None:
    server, transport = memory_server(Asgi(echo_scope))
    async with server:
        client = Client(transport)
        status, _, body = await client.request("POST", "/", body=iter([b"one,", b"two,", b"3"]))
        assert status == 200
        assert json.loads(body)["body"] == "one,two,3"


async def test_a_client_that_goes_away_is_the_apps_http_disconnect() -> None:
    heard: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
    waiting = asyncio.Event()

    async def patient(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await receive()  # the (empty) body
        waiting.set()
        heard.set_result(await receive())  # nothing answered yet: waits for the client

    server, transport = memory_server(Asgi(patient))
    async with server:
        client = Client(transport)
        client.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        await waiting.wait()
        client.close()
        assert await heard == {"type": "http.disconnect"}


async def test_buffered_bodies_come_whole_when_streaming_is_off() -> None:
    server, transport = memory_server(Asgi(echo_scope, stream_request_bodies=False))
    async with server:
        _, _, body = await Client(transport).post("/", body=b"whole")
    assert json.loads(body)["more_body"] == [False]


@pytest.mark.parametrize(
    "head",
    [
        b"GET / HTTP/1.1\r\nHost: t\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
    ],
)
async def test_a_request_without_a_body_is_one_empty_http_request(head: bytes) -> None:
    # Not streamed (nothing to stream): one message, as a buffered body would be.
    server, transport = memory_server(Asgi(echo_scope))
    async with server:
        [(status, _, body)] = await Client(transport).exchange(head)
    assert status == 200
    assert (json.loads(body)["body"], json.loads(body)["more_body"]) == ("", [False])


async def test_apps_answering_at_once_and_later_are_each_answered_in_order() -> None:
    # The app starts in the dispatch's turn; its answer is taken at once when it is
    # already there, else waited for: both paths, pipelined on one connection.
    gate = asyncio.Event()

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/later":
            await gate.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": scope["path"].encode()})

    server, transport = memory_server(Asgi(app))
    async with server:
        client = Client(transport)
        client.send(b"GET /now HTTP/1.1\r\nHost: t\r\n\r\nGET /later HTTP/1.1\r\nHost: t\r\n\r\n")
        first = await client.response()
        gate.set()
        second = await client.response()
    assert [first.body, second.body] == [b"/now", b"/later"]


async def trailing(scope: Scope, receive: Any, send: Any) -> None:
    """Announces trailers, sends its body, then its trailers in two messages."""
    if scope["type"] != "http":
        return
    assert "http.response.trailers" in scope["extensions"]
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"trailer", b"x-checksum, x-count")],
            "trailers": True,
        }
    )
    if scope["path"] == "/streamed":
        await send({"type": "http.response.body", "body": b"one,", "more_body": True})
    await send({"type": "http.response.body", "body": b"two"})
    await send(
        {
            "type": "http.response.trailers",
            "headers": [(b"x-checksum", b"abc")],
            "more_trailers": True,
        }
    )
    await send({"type": "http.response.trailers", "headers": [(b"x-count", b"2")]})


@pytest.mark.parametrize("path", ["/", "/streamed"])
async def test_response_trailers_go_out_after_the_body(path: str) -> None:
    server, transport = memory_server(Asgi(trailing))
    async with server:
        client = Client(transport)
        response = await client.get(path, headers={"TE": "trailers"})
        assert response.status == 200
        assert response.headers["trailer"] == "x-checksum, x-count"
        assert response.body == (b"one,two" if path == "/streamed" else b"two")
        assert response.trailers.allitems() == [("x-checksum", "abc"), ("x-count", "2")]
        # Without TE: trailers the client is not sent them; the response is whole.
        plain = await client.get(path)
        assert plain.body == response.body
        assert plain.trailers.allitems() == []


async def test_trailers_the_app_did_not_announce_are_its_mistake(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def unannounced(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"x", "more_body": True})
        await send({"type": "http.response.trailers", "headers": [(b"x-a", b"1")]})

    server, transport = memory_server(Asgi(unannounced))
    async with server:
        client = Client(transport)
        client.send(b"GET / HTTP/1.1\r\nHost: t\r\nTE: trailers\r\n\r\n")
        data = await client.wait_closed()
    assert not data.endswith(b"0\r\n\r\n")  # cut short, never a body that looks whole
    assert "'trailers': True" in caplog.text
