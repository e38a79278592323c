"""A TLS ClientHello on a plain HTTP port gets an immediate 400 and a close, not a 408 later.

An ``https://`` URL for a plain port sends a TLS handshake record (``0x16 0x03 ...``): no
line end is coming, so without this the client would wait for the head timeout.
"""

from __future__ import annotations

import asyncio
import socket
import ssl

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relays import Component
from relays_http import Limits, Request, Response, Server
from relays_http.testing import Client, memory_server, parse_responses, serve_in_thread

#: The start of a real ClientHello record: handshake (0x16), TLS 1.0 record version,
#: length, ClientHello (0x01).
CLIENT_HELLO = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(32))


class Hello(Component):
    channel = "web"

    def request(self, request: Request, response: Response) -> str:
        return "hello"


@pytest.mark.integration
def test_a_client_hello_on_a_plain_port_is_answered_400_at_once() -> None:
    # The head timeout is a minute: a 408 would not come within the socket's timeout.
    limits = Limits(header_timeout=60)
    with serve_in_thread(Server("tcp://127.0.0.1:0", limits=limits) + Hello()) as server:
        assert server.port is not None
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(CLIENT_HELLO)
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        [response] = parse_responses(data)
        assert response.status == 400
        assert b"plain HTTP" in response.body


@pytest.mark.integration
def test_an_https_client_on_a_plain_port_fails_at_once() -> None:
    limits = Limits(header_timeout=60)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with serve_in_thread(Server("tcp://127.0.0.1:0", limits=limits) + Hello()) as server:
        assert server.port is not None
        with (
            socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock,
            pytest.raises(ssl.SSLError),
        ):
            context.wrap_socket(sock, server_hostname="localhost")


async def _answer_to(data: bytes, split: int) -> list[int]:
    server, transport = memory_server(Hello(), limits=Limits(header_timeout=60))
    async with server:
        client = Client(transport)
        client.send(data[:split])
        if data[split:]:
            client.send(data[split:])
        return [response.status for response in parse_responses(await client.wait_closed())]


@settings(max_examples=50, deadline=None)
@given(rest=st.binary(max_size=300), split=st.integers(min_value=1, max_value=400))
def test_any_bytes_after_a_handshake_byte_get_one_400(rest: bytes, split: int) -> None:
    assert asyncio.run(_answer_to(b"\x16" + rest, split)) == [400]


class Echo(Component):
    channel = "web"

    async def request(self, request: Request, response: Response) -> bytes:
        return await request.read()


async def test_only_the_first_byte_of_a_head_counts() -> None:
    # A body, or a keep-alive connection's later bytes, starting with 0x16 are data.
    server, transport = memory_server(Echo())
    async with server:
        client = Client(transport)
        body = CLIENT_HELLO
        assert (await client.post("/", body=body)).body == body
        assert (await client.post("/", body=body)).body == body
