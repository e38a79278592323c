"""Test helpers for relays-http: an HTTP client for the in-memory transport.

:class:`Client` talks HTTP/1.1 to a server whose transport is a
:class:`relays.testing.MemoryTransport`, so a test exercises the real protocol
(framing, keep-alive, pipelining, limits) without sockets::

    transport = MemoryTransport(channel="web")
    server = Server(transport=transport) + Root()
    async with server:
        client = Client(transport)
        response = await client.get("/hello?name=ann")
        assert (response.status, response.text) == (200, "hello ann")

:func:`serve_in_thread` runs a real server in a background thread for tests with
real clients (``curl``, :mod:`http.client`), :func:`exchange_raw` sends it raw bytes over
a real socket and returns all it answers, and :func:`parse_responses` reads responses out
of those bytes. Both the client and the parser understand
Content-Length, chunked bodies with trailers, bodies that end when the connection
closes, and the 1xx, 204, 304 and ``HEAD`` responses that have no body.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import attrs

from relays import BaseComponent
from relays.testing import MemoryClient, MemoryTransport

from ._headers import Headers
from ._servers import BaseServer

__all__ = [
    "RELAYS_COMMAND",
    "START_TIMEOUT",
    "Client",
    "ClientResponse",
    "IncompleteResponse",
    "exchange_raw",
    "memory_server",
    "parse_response",
    "parse_responses",
    "run_relays",
    "serve_in_thread",
]

#: What the header fields of a request may be given as.
FieldsArgument = Mapping[str, str] | Iterable[tuple[str, str]] | None


class IncompleteResponse(ValueError):
    """The bytes end (or the connection closed) in the middle of a response."""


@attrs.frozen
class ClientResponse:
    """One response as the client received it.

    It unpacks as ``status, headers, body = await client.get("/")``.
    """

    status: int
    reason: str
    headers: Headers
    body: bytes
    http_version: str = "1.1"
    #: The trailer fields of a chunked body (empty otherwise).
    trailers: Headers = attrs.field(factory=Headers)

    @property
    def text(self) -> str:
        """The body decoded as UTF-8."""
        return self.body.decode("utf-8")

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.status, self.headers, self.body))


def _has_no_body(status: int, method: str) -> bool:
    return status < 200 or status in (204, 304) or method.upper() == "HEAD"


def _read_fields(lines: list[str]) -> Headers:
    fields = Headers()
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise ValueError(f"malformed header line in a response: {line!r}")
        fields.add(name, value.strip(" \t"))
    return fields


def _read_chunked(data: bytes, start: int) -> tuple[bytes, Headers, int] | None:
    """The body and trailers of a chunked body at *start*, and where it ends."""
    body = bytearray()
    position = start
    while True:
        line_end = data.find(b"\r\n", position)
        if line_end < 0:
            return None
        size_text = data[position:line_end].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise ValueError(f"invalid chunk size in a response: {size_text!r}") from None
        position = line_end + 2
        if size == 0:
            break
        if len(data) < position + size + 2:
            return None
        body += data[position : position + size]
        if data[position + size : position + size + 2] != b"\r\n":
            raise ValueError("a chunk of the response does not end with CRLF")
        position += size + 2
    trailer_end = data.find(b"\r\n\r\n", position - 2)
    if trailer_end < 0:
        return None
    lines = (
        data[position:trailer_end].decode("latin-1").split("\r\n")
        if trailer_end > position
        else []
    )
    return bytes(body), _read_fields([line for line in lines if line]), trailer_end + 4


def parse_response(
    data: bytes, method: str = "GET", *, at_eof: bool = False
) -> tuple[ClientResponse, int] | None:
    """The first response in *data* and how many bytes it took, or None if incomplete.

    *method* is the request's (a ``HEAD`` response has no body); *at_eof* says the
    connection is closed, which ends a body framed by neither length nor chunks.
    Raises :class:`ValueError` for bytes that are not an HTTP/1 response.
    """
    head_end = data.find(b"\r\n\r\n")
    if head_end < 0:
        if at_eof and data:
            raise IncompleteResponse(f"the connection closed inside a response head: {data!r}")
        return None
    lines = data[:head_end].decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    status_text, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/") or len(status_text) != 3 or not status_text.isdigit():
        raise ValueError(f"not an HTTP response status line: {lines[0]!r}")
    status = int(status_text)
    headers = _read_fields(lines[1:])
    start = head_end + 4
    trailers = Headers()
    if _has_no_body(status, method):
        body, end = b"", start
    elif "chunked" in headers.get("transfer-encoding", "").lower():
        chunked = _read_chunked(data, start)
        if chunked is None:
            if at_eof:
                raise IncompleteResponse("the connection closed inside a chunked body")
            return None
        body, trailers, end = chunked
    elif "content-length" in headers:
        end = start + int(headers["content-length"])
        if len(data) < end:
            if at_eof:
                raise IncompleteResponse("the connection closed before Content-Length bytes")
            return None
        body = data[start:end]
    elif at_eof:
        body, end = data[start:], len(data)
    else:
        return None  # the body ends when the connection closes
    response = ClientResponse(status, reason, headers, body, version[5:], trailers)
    return response, end


def parse_responses(data: bytes, methods: Iterable[str] = ()) -> list[ClientResponse]:
    """Every response in *data*, the whole of what a connection received.

    *methods* are the requests' methods in order (``GET`` for any not given),
    so the responses to ``HEAD`` are read without a body. Interim (1xx)
    responses are included. Raises :class:`ValueError` if bytes are left over.
    """
    pending = deque(methods)
    responses = []
    position = 0
    while position < len(data):
        method = pending[0] if pending else "GET"
        found = parse_response(data[position:], method, at_eof=True)
        if found is None:  # pragma: no cover - at_eof either parses or raises
            raise IncompleteResponse("the bytes end inside a response")
        response, used = found
        position += used
        if response.status >= 200 and pending:
            pending.popleft()
        responses.append(response)
    return responses


def _encode_fields(host: str | None, fields: FieldsArgument) -> list[tuple[str, str]]:
    pairs = list(fields.items() if isinstance(fields, Mapping) else fields or ())
    if host is not None and not any(name.lower() == "host" for name, _ in pairs):
        pairs.insert(0, ("host", host))
    return pairs


class Client:
    """An HTTP/1.1 client on one in-memory connection to *transport*'s server.

    *peer* is the client's address as the server sees it (default: a new
    ``127.0.0.1`` port); *host* goes into every request's ``Host`` field unless
    the request sets its own (None: no ``Host`` unless given).
    """

    def __init__(
        self,
        transport: MemoryTransport,
        *,
        peer: tuple[str, int] | None = None,
        host: str | None = "test",
        timeout: float = 5.0,
    ) -> None:
        #: The underlying :class:`relays.testing.MemoryClient`.
        self.connection: MemoryClient = transport.connect(peer)
        self.host = host
        self.timeout = timeout
        #: The interim (1xx) responses received so far, such as ``100 Continue``.
        self.interim: list[ClientResponse] = []
        self._buffer = b""
        self._methods: deque[str] = deque()

    @property
    def closed(self) -> bool:
        """Whether the server closed the connection (or :meth:`close` was called)."""
        return self.connection.closed

    def send(self, data: bytes) -> None:
        """Send raw bytes, as one ``read`` on the server (responses are read as GET's)."""
        self.connection.send(data)

    def encode_request(
        self,
        method: str,
        target: str,
        *,
        headers: FieldsArgument = None,
        body: bytes | Iterable[bytes] = b"",
        http_version: str = "1.1",
    ) -> bytes:
        """The bytes of a request. A bytes *body* gets a Content-Length (when not
        empty or the fields give none); any other iterable is sent chunked."""
        pairs = _encode_fields(self.host, headers)
        names = {name.lower() for name, _ in pairs}
        if isinstance(body, bytes | bytearray):
            payload = bytes(body)
            if payload and "content-length" not in names and "transfer-encoding" not in names:
                pairs.append(("content-length", str(len(payload))))
        else:
            if "transfer-encoding" not in names:
                pairs.append(("transfer-encoding", "chunked"))
            payload = (
                b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in body if chunk)
                + b"0\r\n\r\n"
            )
        head = f"{method} {target} HTTP/{http_version}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in pairs)
        return head.encode("latin-1") + b"\r\n" + payload

    def send_request(self, method: str, target: str, **options: Any) -> bytes:
        """Send a request without waiting (pipeline several, then :meth:`responses`).

        Takes the arguments of :meth:`encode_request`; returns the bytes sent.
        """
        data = self.encode_request(method, target, **options)
        self._methods.append(method)
        self.connection.send(data)
        return data

    async def request(self, method: str, target: str, **options: Any) -> ClientResponse:
        """Send a request and return its response (see :meth:`encode_request`)."""
        self.send_request(method, target, **options)
        return await self.response()

    async def get(self, target: str, **options: Any) -> ClientResponse:
        """``GET`` *target*."""
        return await self.request("GET", target, **options)

    async def post(self, target: str, body: bytes = b"", **options: Any) -> ClientResponse:
        """``POST`` *body* to *target*."""
        return await self.request("POST", target, body=body, **options)

    async def response(self) -> ClientResponse:
        """The next final response (1xx ones go to :attr:`interim`).

        Raises :class:`IncompleteResponse` when the server closes the connection
        first, :class:`TimeoutError` after the client's *timeout*.
        """
        while True:
            method = self._methods[0] if self._methods else "GET"
            found = parse_response(self._buffer, method, at_eof=self.closed)
            if found is None:
                if self.closed:
                    raise IncompleteResponse("the server closed the connection without a response")
                await self.connection.wait(timeout=self.timeout)
                self._buffer += self.connection.take()
                continue
            response, used = found
            self._buffer = self._buffer[used:]
            if response.status < 200:
                self.interim.append(response)
                continue
            if self._methods:
                self._methods.popleft()
            return response

    async def upgrade(
        self,
        target: str,
        protocol: str,
        *,
        headers: FieldsArgument = None,
        data: bytes = b"",
    ) -> ClientResponse:
        """Ask to switch the connection to *protocol*; return the ``101`` or the refusal.

        Sends ``GET`` *target* with ``Connection: Upgrade``, ``Upgrade: <protocol>``
        and *headers*, and *data* right behind it, in the same read (the new
        protocol's first bytes, sent before the answer as clients may). After a
        ``101`` the connection speaks the new protocol: :meth:`send` bytes and
        :meth:`receive` them.
        """
        fields = list(headers.items() if isinstance(headers, Mapping) else headers or ())
        fields += [("connection", "Upgrade"), ("upgrade", protocol)]
        self.connection.send(self.encode_request("GET", target, headers=fields) + data)
        while True:
            found = parse_response(self._buffer, "GET", at_eof=self.closed)
            if found is None:
                if self.closed:
                    raise IncompleteResponse("the server closed the connection without a response")
                await self.connection.wait(timeout=self.timeout)
                self._buffer += self.connection.take()
                continue
            response, used = found
            self._buffer = self._buffer[used:]
            if response.status == 101 or response.status >= 200:
                return response
            self.interim.append(response)

    async def receive(self) -> bytes:
        """The bytes received and not read as a response (after a switch of protocols,
        the new protocol's); waits for some unless the connection is closed."""
        if not self._buffer and not self.connection.received and not self.closed:
            await self.connection.wait(timeout=self.timeout)
        data = self._buffer + self.connection.take()
        self._buffer = b""
        return data

    async def exchange(self, data: bytes, count: int = 1) -> list[ClientResponse]:
        """Send raw *data* (say, several pipelined requests) and read *count* responses."""
        self.send(data)
        return await self.responses(count)

    async def responses(self, count: int) -> list[ClientResponse]:
        """The next *count* final responses, in order."""
        return [await self.response() for _ in range(count)]

    async def wait_closed(self) -> bytes:
        """Wait until the server closes the connection; return what is left unread."""
        await self.connection.wait(lambda _: self.closed, timeout=self.timeout)
        self._buffer += self.connection.take()
        rest, self._buffer = self._buffer, b""
        return rest

    def close(self) -> None:
        """Hang up: the server sees ``disconnect``."""
        self.connection.close()


def memory_server(*apps: BaseComponent, **options: Any) -> tuple[BaseServer, MemoryTransport]:
    """A :class:`~relays_http.BaseServer` on an in-memory transport, with *apps* under it.

    *options* go to the server (``limits=``, ``debug=``...). Talk to it with
    :class:`Client`: ``Client(transport)``. Start it with ``async with server:``.
    """
    transport = MemoryTransport(channel="web")
    server = BaseServer(transport=transport, **options)
    for app in apps:
        server += app
    return server, transport


@contextmanager
def serve_in_thread(server: BaseServer, *, timeout: float = 10.0) -> Iterator[BaseServer]:
    """Run *server* (listening on a real address, port 0 is fine) in a thread.

    Yields it once it listens (its port accepts; ``server.url``, ``server.port`` are
    set) and stops it on the way out::

        with serve_in_thread(Server("tcp://127.0.0.1:0") + Root()) as server:
            urllib.request.urlopen(server.url)

    It waits on the server's own signal (:meth:`~relays_http.BaseServer.wait_listening`):
    a server that cannot listen raises its :class:`~relays_http.BindError` at once, and
    one that says nothing within *timeout* seconds raises :class:`TimeoutError`.
    """
    server.start()
    try:
        server.wait_listening(timeout)
        yield server
    finally:
        server.stop()


def exchange_raw(
    address: tuple[str, int] | str | os.PathLike[str], data: bytes, *, timeout: float = 10.0
) -> bytes:
    """Send *data* to the server at *address* over a real socket; return all it sends
    back, until it closes the connection (so ask with ``Connection: close``).

    *address* is ``(host, port)`` for TCP, or the path of a UNIX socket. Each step
    (connect, send, each read) gets *timeout* seconds: a server that keeps the
    connection open raises :class:`TimeoutError`. Read the answer with
    :func:`parse_responses`.
    """
    if isinstance(address, tuple):
        connection = socket.create_connection(address, timeout=timeout)
    else:
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.settimeout(timeout)
        try:
            connection.connect(os.fspath(address))
        except BaseException:
            connection.close()
            raise
    received = bytearray()
    with connection:
        connection.sendall(data)
        while chunk := connection.recv(65536):
            received += chunk
    return bytes(received)


#: ``relays`` as a command, run by the interpreter running the tests (no PATH lookup).
RELAYS_COMMAND = [
    sys.executable,
    "-c",
    "import sys; from relays._cli import main; sys.exit(main())",
]


#: Seconds :func:`run_relays` waits for the line announcing the URL (imports included).
START_TIMEOUT = 60.0


@contextmanager
def run_relays(
    *arguments: str,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float = 10.0,
    start_timeout: float = START_TIMEOUT,
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Run ``relays *arguments`` (``serve ...``, ``demo ...``) as a real process.

    Yields the process and the URL its first line announces, once it listens; on the
    way out it is stopped with SIGTERM (killed after *timeout* seconds)::

        with run_relays("demo", "--bind", "tcp://127.0.0.1:0") as (process, url):
            urllib.request.urlopen(url)

    A process that exits first (say, it cannot listen) raises :class:`AssertionError`
    with its stderr at once; one that prints nothing within *start_timeout* seconds
    raises :class:`TimeoutError`.
    """
    process = subprocess.Popen(
        [*RELAYS_COMMAND, *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        if not select.select([process.stdout], [], [], start_timeout)[0]:
            raise TimeoutError(
                f"relays {' '.join(arguments)} printed no line within {start_timeout:g} s "
                "(waited for the line announcing its URL)"
            )
        line = process.stdout.readline()
        match = re.search(r"(https?://\S+/)", line)
        if match is None:
            errors = process.stderr.read() if process.stderr is not None else ""
            raise AssertionError(f"no URL in {line!r}; stderr: {errors}")
        yield process, match.group(1)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
