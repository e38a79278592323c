"""The access log on a real server: lines written for real requests, parsed back."""

from __future__ import annotations

import http.client
import json
import logging
import re
import socket
import time
from collections.abc import Callable

import pytest

from relays import Component
from relays_http import Server, TrustedProxies
from relays_logging import AccessLog, AccessRecord

pytestmark = pytest.mark.integration

#: Apache's combined format plus %D, with the escapes our lines use inside quotes.
COMBINED = re.compile(
    r"^(?P<remote>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<time>[^\]]+)\] "
    r'"(?P<request>(?:[^"\\]|\\.)*)" (?P<status>\d{3}) (?P<size>\d+|-) '
    r'"(?P<referer>(?:[^"\\]|\\.)*)" "(?P<agent>(?:[^"\\]|\\.)*)" (?P<duration>\d+)$'
)
TIME = re.compile(r"^\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}$")


def get(
    server: Server, target: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        connection.request(method, target, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def parse(line: str) -> dict[str, str]:
    match = COMBINED.match(line)
    assert match is not None, f"not a combined line: {line!r}"
    return match.groupdict()


def test_combined_line_for_each_response(serve: Callable[..., Server], capture) -> None:
    log = capture("relays.access")
    server = serve(AccessLog())
    cases = [
        ("/text", 200, b"hello"),
        ("/bytes", 200, b"\x00\x01\x02"),
        ("/json", 200, None),
        ("/response", 201, b"made"),
        ("/missing", 404, None),
        ("/fail", 500, None),
    ]
    bodies = []
    for target, status, _ in cases:
        got_status, body = get(
            server, target, {"Referer": "http://example.com/", "User-Agent": "test/1.0"}
        )
        assert got_status == status
        bodies.append(body)
    lines = log.wait_for(len(cases))
    for (target, status, _), body, line in zip(cases, bodies, lines, strict=True):
        fields = parse(line)
        assert fields["remote"] == "127.0.0.1"
        assert (fields["ident"], fields["user"]) == ("-", "-")
        assert TIME.match(fields["time"])
        assert fields["request"] == f"GET {target} HTTP/1.1"
        assert int(fields["status"]) == status
        assert fields["referer"] == "http://example.com/"
        assert fields["agent"] == "test/1.0"
        assert int(fields["duration"]) >= 0
        assert fields["size"] == str(len(body)), line  # what the client received, pages too


def test_streamed_head_and_missing_fields(serve: Callable[..., Server], capture) -> None:
    log = capture("relays.access")
    server = serve(AccessLog())
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"GET /stream HTTP/1.0\r\n\r\n")
        while sock.recv(4096):
            pass
    assert get(server, "/text", method="HEAD")[0] == 200
    first, second = (parse(line) for line in log.wait_for(2))
    assert first["request"] == "GET /stream HTTP/1.0"
    assert (first["size"], first["referer"], first["agent"]) == ("6", "-", "-")  # 0\n1\n2\n
    assert second["request"] == "HEAD /text HTTP/1.1"
    assert second["size"] == "-"  # no body bytes: Apache's %b shows 0 as "-"


def test_json_lines(serve: Callable[..., Server], capture) -> None:
    log = capture("relays.access")
    server = serve(AccessLog(format="json"))
    status, body = get(server, "/json?q=1", {"User-Agent": 'Zoë "quoted"'})
    assert status == 200
    assert get(server, "/missing")[0] == 404
    first, second = (json.loads(line) for line in log.wait_for(2))
    assert first["remote"] == first["peer"] == "127.0.0.1"
    assert first["method"] == "GET"
    assert first["target"] == "/json?q=1"
    assert first["protocol"] == "HTTP/1.1"
    assert first["status"] == 200
    assert first["bytes"] == len(body)
    assert first["referer"] is None
    # http.client sends the field as Latin-1; the bytes are not UTF-8, so they show as \xhh.
    assert first["user_agent"] == 'Zo\\xeb "quoted"'
    assert isinstance(first["duration_us"], int)
    assert re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{2}:\d{2}$", first["time"])
    assert (second["status"], second["bytes"]) == (404, len(get(server, "/missing")[1]))


def test_record_is_attached_for_structured_handlers(serve: Callable[..., Server], capture) -> None:
    log = capture("relays.access")
    server = serve(AccessLog())
    get(server, "/text")
    log.wait_for(1)
    record = log.records[0].access  # type: ignore[attr-defined]
    assert isinstance(record, AccessRecord)
    assert (record.status, record.size, record.method) == (200, 5, "GET")


def test_duration_measures_the_handler(serve: Callable[..., Server], capture) -> None:
    from relays_http import Request, Response

    class Slow(Component):
        channel = "web"

        async def request(self, request: Request, response: Response) -> str | None:
            if request.path != "/slow":
                return None
            import asyncio

            await asyncio.sleep(0.05)
            return "done"

    log = capture("relays.access")
    server = serve(AccessLog(), Slow())
    started = time.perf_counter()
    get(server, "/slow")
    elapsed_us = (time.perf_counter() - started) * 1_000_000
    duration = int(parse(log.wait_for(1)[0])["duration"])
    # uvloop's timers fire on its millisecond clock, a little before 50 ms by perf_counter;
    # the duration is read on that clock too (loop.time(), cached per loop turn and cut to
    # the millisecond), so it may also come out up to a millisecond over the client's.
    assert 49_000 <= duration <= elapsed_us + 1_000


def test_proxy_trusted(serve: Callable[..., Server], capture) -> None:
    log = capture("relays.access")
    server = serve(AccessLog(), TrustedProxies(["127.0.0.0/8", "10.0.0.0/8"]))
    get(server, "/text", {"X-Forwarded-For": "203.0.113.9, 10.1.2.3"})
    get(server, "/text", {"X-Forwarded-For": "garbage, 198.51.100.7"})
    get(server, "/text")
    lines = log.wait_for(3)
    # The rightmost untrusted entry wins; what the client wrote left of it is ignored.
    remotes = [parse(line)["remote"] for line in lines]
    assert remotes == ["203.0.113.9", "198.51.100.7", "127.0.0.1"]


def test_proxy_json_keeps_the_peer(serve: Callable[..., Server], capture) -> None:
    log = capture("relays.access")
    server = serve(AccessLog(format="json"), TrustedProxies(["127.0.0.1"]))
    get(server, "/text", {"Forwarded": 'for="[2001:db8::7]:4711";proto=https'})
    line = json.loads(log.wait_for(1)[0])
    assert (line["remote"], line["peer"]) == ("2001:db8::7", "127.0.0.1")


def test_proxy_not_trusted(serve: Callable[..., Server], capture) -> None:
    log = capture("relays.access")
    server = serve(AccessLog(), TrustedProxies(["10.0.0.0/8"]))
    get(server, "/text", {"X-Forwarded-For": "203.0.113.9"})
    assert parse(log.wait_for(1)[0])["remote"] == "127.0.0.1"


def test_logger_level_switches_it_off(serve: Callable[..., Server], capture) -> None:
    log = capture("relays.access")
    logging.getLogger("relays.access").setLevel(logging.WARNING)  # the fixture restores it
    server = serve(AccessLog())
    get(server, "/text")
    time.sleep(0.1)
    assert log.lines == []


def test_bad_format_is_refused() -> None:
    with pytest.raises(ValueError, match="'combined' or 'json'"):
        AccessLog(format="common")  # type: ignore[arg-type]


def test_unix_socket_client_is_unknown(tmp_path, capture) -> None:
    from relays_http import Request, Response

    class Hello(Component):
        channel = "web"

        def request(self, request: Request, response: Response) -> str:
            return "hi"

    log = capture("relays.access")
    path = tmp_path / "web.sock"
    server = Server(f"unix://{path}") + Hello() + AccessLog()
    server.start()
    try:
        server.wait_listening()
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(str(path))
            sock.sendall(b"GET /u HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            while sock.recv(4096):
                pass
        fields = parse(log.wait_for(1)[0])
    finally:
        server.stop()
    assert (fields["remote"], fields["request"], fields["size"]) == ("-", "GET /u HTTP/1.1", "2")
