"""The client against real servers on loopback: relays itself, nginx and aiohttp's server.

Each is asked the same things: a page with a length, a chunked body, keep-alive reuse,
a redirect, and the same over TLS (a trustme CA the client is told to trust). nginx is the
Debian package (``.ci/run`` installs it), started by the test with its own configuration
in a temporary directory and stopped by PID; the test is skipped when it is missing.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trustme

from relays_http import Controller, Server
from relays_http.client import Session

pytestmark = pytest.mark.integration

TEXT = b"relays client integration\n" * 400  # ~10 KiB: nginx gzips and chunks it


@pytest.fixture
def tls(tmp_path: Path) -> tuple[Path, Path]:
    """``(server PEM with key and chain, CA file)`` for 127.0.0.1 and localhost."""
    authority = trustme.CA()
    server_pem = tmp_path / "server.pem"
    authority.issue_cert("127.0.0.1", "localhost").private_key_and_cert_chain_pem.write_to_path(
        str(server_pem)
    )
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    return server_pem, ca_file


async def check_server(base: str, *, ca_file: Path | None = None, chunked: str) -> None:
    """The checks every server passes; ``base`` ends with ``/``."""
    async with Session(verify=str(ca_file) if ca_file else True) as session:
        small = await session.get(base + "small")
        assert small.status_code == 200
        assert small.content == b"hello\n"
        assert small.headers["content-length"] == "6"

        big = await session.get(base + chunked)
        assert big.content == TEXT
        assert "content-length" not in big.headers  # chunked (maybe gzip) on the wire

        async with session.stream("GET", base + chunked) as response:
            pieces = [piece async for piece in response.iter_bytes()]
        assert b"".join(pieces) == TEXT

        moved = await session.get(base + "old")
        assert [r.status_code for r in moved.history] == [301]
        assert moved.content == b"hello\n"
        assert moved.url == base + "small"

        answers = await asyncio.gather(*(session.get(base + "small") for _ in range(20)))
        assert {answer.content for answer in answers} == {b"hello\n"}
        assert session.pool.connections_opened <= 21

    async with Session(verify=str(ca_file) if ca_file else True) as session:
        for path in ("small", chunked, "old", "small", chunked):
            await session.get(base + path)
        assert session.pool.connections_opened == 1  # keep-alive: one for all six


# -- relays -----------------------------------------------------------------------------


class Pages(Controller):
    def small(self) -> str:
        return "hello\n"

    def large(self) -> Iterator[bytes]:
        for start in range(0, len(TEXT), 1000):
            yield TEXT[start : start + 1000]  # a generator: streamed chunked

    def old(self) -> object:
        return self.redirect("/small", 301)


@pytest.mark.parametrize("secure", [False, True])
async def test_relays(tls: tuple[Path, Path], secure: bool) -> None:
    server_pem, ca_file = tls
    if secure:
        server = Server("tls://127.0.0.1:0", certfile=str(server_pem)) + Pages()
    else:
        server = Server("tcp://127.0.0.1:0") + Pages()
    async with server:
        await server.wait_ready()
        assert server.url is not None
        await check_server(server.url, ca_file=ca_file if secure else None, chunked="large")


# -- nginx ------------------------------------------------------------------------------

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
NGINX_CONF = """
daemon off;
master_process off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    types {{ text/plain txt; }}
    gzip on;
    gzip_types text/plain;
    gzip_min_length 0;
    server {{
        listen 127.0.0.1:{port};
        listen 127.0.0.1:{tls_port} ssl;
        ssl_certificate {certificate};
        ssl_certificate_key {certificate};
        root {prefix}/www;
        location = /small {{ gzip off; default_type text/plain; return 200 "hello\\n"; }}
        location = /old {{ return 301 /small; }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def wait_listening(port: int, process: asyncio.subprocess.Process) -> None:
    """Wait until ``port`` accepts (nginx says nothing when it is ready), or nginx died."""
    for _ in range(500):
        if process.returncode is not None:
            raise RuntimeError(f"nginx exited with {process.returncode}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.02)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise RuntimeError("nginx did not listen within 10 s")


@asynccontextmanager
async def nginx(prefix: Path, certificate: Path) -> AsyncIterator[tuple[int, int]]:
    if NGINX is None:
        pytest.skip("nginx is not installed (apt-get install nginx; .ci/run installs it)")
    (prefix / "www").mkdir(parents=True)
    (prefix / "www" / "large.txt").write_bytes(TEXT)
    port, tls_port = free_port(), free_port()
    config = prefix / "nginx.conf"
    config.write_text(
        NGINX_CONF.format(prefix=prefix, port=port, tls_port=tls_port, certificate=certificate)
    )
    process = await asyncio.create_subprocess_exec(
        NGINX,
        "-p",
        str(prefix),
        "-c",
        str(config),
        "-e",
        str(prefix / "error.log"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await wait_listening(port, process)
        await wait_listening(tls_port, process)
        yield port, tls_port
    finally:
        os.kill(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


async def test_nginx(tmp_path: Path, tls: tuple[Path, Path]) -> None:
    server_pem, ca_file = tls
    async with nginx(tmp_path / "nginx", server_pem) as (port, tls_port):
        await check_server(f"http://127.0.0.1:{port}/", chunked="large.txt")
        await check_server(f"https://127.0.0.1:{tls_port}/", ca_file=ca_file, chunked="large.txt")
        async with Session() as session:
            response = await session.get(f"http://127.0.0.1:{port}/large.txt")
        assert response.headers["content-encoding"] == "gzip"
        assert response.headers["transfer-encoding"] == "chunked"


# -- aiohttp ----------------------------------------------------------------------------


@asynccontextmanager
async def aiohttp_server(ssl_context: ssl.SSLContext | None) -> AsyncIterator[int]:
    web = pytest.importorskip("aiohttp.web")

    async def small(request: object) -> object:
        return web.Response(body=b"hello\n")

    async def large(request: object) -> object:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)  # type: ignore[arg-type]
        for start in range(0, len(TEXT), 1000):
            await response.write(TEXT[start : start + 1000])
        await response.write_eof()
        return response

    async def old(request: object) -> object:
        raise web.HTTPMovedPermanently("/small")

    async def upload(request: Any) -> object:
        body = await request.read()
        return web.Response(
            body=b"%d %s" % (len(body), request.headers.get("Expect", "-").encode())
        )

    app = web.Application()
    app.router.add_get("/small", small)
    app.router.add_get("/large", large)
    app.router.add_get("/old", old)
    app.router.add_post("/upload", upload)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("secure", [False, True])
async def test_aiohttp(tls: tuple[Path, Path], secure: bool) -> None:
    server_pem, ca_file = tls
    context = None
    if secure:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(server_pem))
    async with aiohttp_server(context) as port:
        scheme = "https" if secure else "http"
        base = f"{scheme}://127.0.0.1:{port}/"
        await check_server(base, ca_file=ca_file if secure else None, chunked="large")
        # A large upload waits for aiohttp's 100 Continue (the default timeout is 1 s:
        # were the 100 not understood, the body would still go, and the test pass).
        async with Session(verify=str(ca_file) if secure else True) as session:
            response = await session.post(base + "upload", content=b"u" * (1 << 20))
        assert response.content == b"1048576 100-continue"
