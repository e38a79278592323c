"""A server driving the sans-IO HTTP/1.1 core by hand on asyncio streams, as
docs/reference/http-protocol.rst shows it: started on a free port of 127.0.0.1 and asked by
http.client (two requests on one connection), then by a raw socket (a request with no Host)."""

import asyncio
import http.client
import socket

from relays_http._protocol import (
    NEED_DATA,
    PAUSED,
    Connection,
    ConnectionClosed,
    Data,
    EndOfMessage,
    Limits,
    RemoteProtocolError,
    Request,
    Response,
)


def answer(connection: Connection, request: Request, body: bytes) -> bytes:
    """The bytes of the whole response to *request*: a line saying what came in."""
    text = f"{request.method.decode()} {request.target.decode()}: {len(body)} bytes\n"
    return (
        connection.send(Response(200, [(b"Content-Type", b"text/plain")]))
        + connection.send(Data(text.encode()))
        + connection.send(EndOfMessage())
    )


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    connection = Connection(Limits())
    request, body = None, bytearray()
    while True:
        try:
            event = connection.next_event()
        except RemoteProtocolError as error:
            writer.write(connection.send_error(error))  # b"" if a response started
            break
        if event is NEED_DATA:
            connection.receive_data(await reader.read(65536))  # b"" on EOF
        elif event is PAUSED:
            await writer.drain()  # read no further until the response is out: back-pressure
            if connection.must_close:
                break
            connection.start_next_cycle()
        elif type(event) is ConnectionClosed:
            break
        elif type(event) is Request:
            request, body = event, bytearray()
        elif type(event) is Data:  # a piece of the request body
            body += event.data
        elif type(event) is EndOfMessage and request is not None:  # the request is whole
            writer.write(answer(connection, request, bytes(body)))
    writer.close()
    await writer.wait_closed()


def ask(port: int) -> None:
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for method, path, body in [("GET", "/hello", None), ("POST", "/echo", b"abc")]:
        client.request(method, path, body=body)
        response = client.getresponse()
        print(response.status, response.read().decode(), end="")
    client.close()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(b"GET / HTTP/1.1\r\n\r\n")  # HTTP/1.1 without a Host: refused
        with raw.makefile("rb") as answer:
            print(answer.readline().decode().rstrip())


async def main() -> None:
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        await asyncio.to_thread(ask, port)


asyncio.run(main())
