"""A scripted HTTP/1.1 server on loopback for the client's tests (imported by them:
conftest.py puts this folder on ``sys.path``).

Each test says, per request, which bytes go back (or None: close without answering), so
bad servers are as easy to write as good ones. Requests are parsed here with plain
asyncio streams, independently of the code under test.
"""

from __future__ import annotations

import asyncio
import inspect
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import attrs


@attrs.define
class ReceivedRequest:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    #: 0 for the first connection the server accepted, 1 for the next...
    connection: int
    #: 0 for the first request on its connection.
    index: int


class ThenClose(bytes):
    """An answer after which the server closes the connection."""


Responder = Callable[[ReceivedRequest], "bytes | Awaitable[bytes | None] | None"]


def reply(
    body: bytes = b"",
    status: str = "200 OK",
    headers: dict[str, str] | None = None,
    *,
    length: bool = True,
) -> bytes:
    """A response with ``body`` (and a Content-Length unless ``length`` is False)."""
    lines = [f"HTTP/1.1 {status}"]
    fields = dict(headers or {})
    if length:
        fields.setdefault("Content-Length", str(len(body)))
    lines += [f"{name}: {value}" for name, value in fields.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class ScriptedServer:
    """Answers each request with what ``respond`` returns."""

    def __init__(
        self,
        respond: Responder,
        ssl_context: ssl.SSLContext | None = None,
        *,
        on_expect: bytes | None = b"HTTP/1.1 100 Continue\r\n\r\n",
    ) -> None:
        self.respond = respond
        #: Written when a request says ``Expect: 100-continue``, before its body is read;
        #: None: ignore Expect (read the body at once); a final response: answer with it
        #: and close without reading the body.
        self.on_expect = on_expect
        self.requests: list[ReceivedRequest] = []
        self.connections = 0
        self.port = 0
        self._ssl = ssl_context
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def scheme(self) -> str:
        return "https" if self._ssl else "http"

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self._ssl)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        # Closing a writer ends its handler's read with EOF; wait for them to return.
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        number = self.connections
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        try:
            index = 0
            while True:
                request = await self._read_request(reader, writer, number, index)
                if request is None:
                    return
                self.requests.append(request)
                answer = self.respond(request)
                if inspect.isawaitable(answer):
                    answer = await answer
                if answer is None:
                    return
                if request.method == "HEAD":  # the head only, as a server must
                    answer = answer.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
                writer.write(answer)
                await writer.drain()
                head = answer.split(b"\r\n\r\n", 1)[0].lower()
                if b"connection: close" in head or isinstance(answer, ThenClose):
                    return
                index += 1
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            return
        finally:
            self._writers.discard(writer)
            self._handlers.discard(task)
            writer.close()

    async def _read_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int, index: int
    ) -> ReceivedRequest | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        lines = head[:-4].decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        body = b""
        if headers.get("expect", "").lower() == "100-continue" and self.on_expect is not None:
            writer.write(self.on_expect)
            await writer.drain()
            if not self.on_expect.startswith(b"HTTP/1.1 100 "):
                self.requests.append(ReceivedRequest(method, target, headers, b"", number, index))
                return None  # refused before the body: close without reading it
        if "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding") == "chunked":
            while True:
                size = int((await reader.readline()).split(b";")[0], 16)
                if not size:
                    while (await reader.readline()) != b"\r\n":
                        pass
                    break
                body += await reader.readexactly(size)
                await reader.readline()
        return ReceivedRequest(method, target, headers, body, number, index)


@asynccontextmanager
async def serving(respond: Responder, **options: Any) -> AsyncIterator[ScriptedServer]:
    """A started :class:`ScriptedServer`, stopped when the block ends."""
    server = ScriptedServer(respond, **options)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
