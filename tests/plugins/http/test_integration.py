"""The server on loopback sockets with real clients: curl, http.client, urllib, raw sockets."""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from relays import Component
from relays_http import Limits, Request, Response, Server

pytestmark = pytest.mark.integration


class App(Component):
    channel = "web"

    async def request(self, request: Request, response: Response) -> Any:
        if request.path == "/echo":
            return {
                "method": request.method,
                "body": (await request.read()).decode(),
                "query": request.query.to_dict(),
            }
        if request.path == "/form":
            form = await request.form()
            upload = form.file("file")
            return {
                "name": form.get("name"),
                "file": upload.read().decode() if upload is not None else None,
            }
        if request.path == "/stream":
            return (f"{index}\n" for index in range(5))
        if request.path == "/cookie":
            response.set_cookie("id", "42", httponly=True)
            return "ok"
        if request.path == "/hello":
            return "hello"
        return None


@pytest.fixture
def server() -> Iterator[Server]:
    limits = Limits(header_timeout=0.3, body_timeout=0.3, keep_alive_timeout=2)
    app = Server("tcp://127.0.0.1:0", limits=limits) + App()
    app.start()
    app.wait_listening()
    yield app
    app.stop()


def connection(server: Server) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)


def raw(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    return sock


def read_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_http_client_keep_alive(server: Server) -> None:
    client = connection(server)
    for index in range(3):
        client.request("POST", f"/echo?i={index}", body=b"payload")
        response = client.getresponse()
        assert response.status == 200
        assert json.loads(response.read()) == {
            "method": "POST",
            "body": "payload",
            "query": {"i": str(index)},
        }
    client.close()


def test_http_client_chunked_both_ways(server: Server) -> None:
    client = connection(server)
    client.request("POST", "/echo", body=iter([b"ab", b"cd"]), encode_chunked=True)
    response = client.getresponse()
    assert json.loads(response.read())["body"] == "abcd"
    client.request("GET", "/stream")
    response = client.getresponse()
    assert response.getheader("Transfer-Encoding") == "chunked"
    assert response.read() == b"0\n1\n2\n3\n4\n"
    client.close()


def test_urllib(server: Server) -> None:
    with urllib.request.urlopen(f"{server.url}hello", timeout=5) as response:
        assert response.read() == b"hello"
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{server.url}missing", timeout=5)
    assert caught.value.code == 404
    caught.value.close()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_form_upload_100_continue_and_cookies(server: Server, tmp_path: Any) -> None:
    upload = tmp_path / "note.txt"
    upload.write_text("from a file")
    result = subprocess.run(
        [
            "curl", "-sS", "-v", "--max-time", "5",
            "-H", "Expect: 100-continue",
            "-F", "name=relays", "-F", f"file=@{upload}",
            f"{server.url}form",
        ],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert json.loads(result.stdout) == {"name": "relays", "file": "from a file"}
    assert "HTTP/1.1 100 Continue" in result.stderr
    result = subprocess.run(
        ["curl", "-sS", "-i", "--max-time", "5", "-b", "secret=1", f"{server.url}cookie"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "set-cookie: id=42; Path=/; HttpOnly" in result.stdout
    assert "secret" not in result.stdout


def test_pipelining_on_a_socket(server: Server) -> None:
    sock = raw(server)
    sock.sendall(
        b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody"
        b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    data = read_all(sock)
    sock.close()
    assert data.count(b"HTTP/1.1 200 OK") == 3
    assert data.index(b"hello") < data.index(b'"body":"body"') < data.rindex(b"hello")


def test_smuggling_attempt_is_refused(server: Server) -> None:
    sock = raw(server)
    sock.sendall(
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    data = read_all(sock)
    sock.close()
    assert data.startswith(b"HTTP/1.1 400 ")
    assert data.count(b"HTTP/1.1") == 1


def test_slowloris_times_out_while_others_are_served(server: Server) -> None:
    slow = raw(server)
    slow.sendall(b"GET /hello HTTP/1.1\r\n")
    started = time.monotonic()
    for _ in range(5):
        client = connection(server)
        client.request("GET", "/hello")
        assert client.getresponse().read() == b"hello"
        client.close()
    data = read_all(slow)
    slow.close()
    assert data.startswith(b"HTTP/1.1 408 ")
    assert time.monotonic() - started < 3


def test_slow_body_times_out(server: Server) -> None:
    sock = raw(server)
    sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab")
    data = read_all(sock)
    sock.close()
    assert data.startswith(b"HTTP/1.1 408 ")


def test_concurrent_clients(server: Server) -> None:
    failures: list[BaseException] = []

    def work() -> None:
        try:
            client = connection(server)
            for _ in range(20):
                client.request("GET", "/hello")
                assert client.getresponse().read() == b"hello"
            client.close()
        except BaseException as error:  # reported below
            failures.append(error)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
