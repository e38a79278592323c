"""The HTTP server how-to: its examples answer as the page says, and its transcripts run.

``examples/web/hello_handler.py`` (a site of one ``request`` handler),
``examples/web/request_tour.py`` (what a handler reads and sets, and a ``before_response``
hook) and ``examples/web/addresses.py`` (TLS and UNIX sockets) are served and asked over
sockets; the page's two ``relays serve`` transcripts (plain and TLS) are run as shown from
``examples/web/``, on a free port. ``test_hello`` is shown in the page as it is.
"""

from __future__ import annotations

import http.client
import json
import shutil
import ssl
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from docs_code_blocks import ROOT, Block, blocks_of
from served import load_example, masked, serve_as_shown

from relays.testing import MemoryTransport
from relays_http import BaseServer
from relays_http.testing import exchange_raw, serve_in_thread

PAGE = ROOT / "docs" / "howto" / "http-server.rst"
FOLDER = ROOT / "examples" / "web"
#: Seconds for a request.
WITHIN = 15


Hello = load_example(FOLDER / "hello_handler.py").Hello


async def test_hello():
    transport = MemoryTransport(channel="web")
    server = BaseServer(transport=transport) + Hello()
    async with server:
        client = transport.connect()
        client.send(b"GET /?name=you HTTP/1.1\r\nHost: test\r\n\r\n")
        received = await client.wait(lambda data: data.endswith(b"Hello, you!"))
        assert received.startswith(b"HTTP/1.1 200 OK\r\n")


def transcript(start: str) -> Block:
    (block,) = [b for b in blocks_of(PAGE) if b.text.startswith(f"$ {start}")]
    return block


@pytest.mark.integration
def test_relays_serve_adds_the_server(tmp_path: Path) -> None:
    block = transcript("relays serve hello_handler:Hello --bind tcp://")
    (command,) = block.commands()
    # A folder of its own: examples/web/relays.toml, an example of a config file, would
    # add its settings (workers) to the command's.
    shutil.copy(FOLDER / "hello_handler.py", tmp_path)
    with serve_as_shown(command, tmp_path) as served:
        assert masked(served.line) == masked(block.output_of(command))
        with urllib.request.urlopen(served.url + "?name=you", timeout=WITHIN) as answer:
            assert answer.read() == b"Hello, you!"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, ssl.SSLContext]:
    """cert.pem and key.pem for 127.0.0.1, and a client context that trusts them."""
    trustme = pytest.importorskip("trustme", reason="trustme is in the dev dependencies")
    authority = trustme.CA()
    issued = authority.issue_cert("127.0.0.1")
    folder = tmp_path_factory.mktemp("tls")
    issued.cert_chain_pems[0].write_to_path(folder / "cert.pem")
    issued.private_key_pem.write_to_path(folder / "key.pem")
    client = ssl.create_default_context()
    authority.configure_trust(client)
    return folder / "cert.pem", folder / "key.pem", client


@pytest.mark.integration
def test_relays_serve_over_tls(
    certificate: tuple[Path, Path, ssl.SSLContext], tmp_path: Path
) -> None:
    block = transcript("relays serve hello_handler:Hello --bind tls://")
    (command,) = block.commands()
    certfile, keyfile, client = certificate
    for file in (FOLDER / "hello_handler.py", certfile, keyfile):  # as the page has them
        shutil.copy(file, tmp_path)
    with serve_as_shown(command, tmp_path) as served:
        assert masked(served.line) == masked(block.output_of(command))
        assert served.url.startswith("https://")
        with urllib.request.urlopen(
            served.url + "?name=tls", timeout=WITHIN, context=client
        ) as answer:
            assert answer.read() == b"Hello, tls!"


@pytest.fixture
def addresses(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(FOLDER))  # it imports hello_handler, as when run
    return load_example(FOLDER / "addresses.py")


@pytest.mark.integration
def test_a_tls_server_in_code(
    addresses: ModuleType, certificate: tuple[Path, Path, ssl.SSLContext]
) -> None:
    certfile, keyfile, client = certificate
    server = addresses.tls_server(str(certfile), str(keyfile), "tls://127.0.0.1:0")
    with serve_in_thread(server) as running:
        url = f"https://127.0.0.1:{running.port}/?name=tls"
        with urllib.request.urlopen(url, timeout=WITHIN, context=client) as answer:
            assert answer.read() == b"Hello, tls!"


@pytest.mark.integration
def test_a_unix_socket_server_in_code(addresses: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "app.sock"
    unix_server = addresses.unix_server(f"unix://{path}")
    request = b"GET /?name=unix HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    with serve_in_thread(unix_server):
        received = exchange_raw(path, request, timeout=WITHIN)
    assert received.startswith(b"HTTP/1.1 200 OK\r\n")
    assert received.endswith(b"\r\n\r\nHello, unix!")


@pytest.fixture(scope="module")
def tour() -> Iterator[int]:
    with serve_in_thread(
        load_example(FOLDER / "request_tour.py").build("tcp://127.0.0.1:0")
    ) as server:
        assert server.port is not None
        yield server.port


def ask(
    port: int, method: str, target: str, body: bytes = b"", fields: dict[str, str] | None = None
) -> tuple[int, http.client.HTTPMessage, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=WITHIN)
    try:
        connection.request(method, target, body=body, headers=fields or {})
        answer = connection.getresponse()
        return answer.status, answer.headers, answer.read()
    finally:
        connection.close()


@pytest.mark.integration
def test_what_a_handler_reads_and_sets(tour: int) -> None:
    fields = {"User-Agent": "tester", "Cookie": "session=s1", "Host": "example.test"}
    status, head, body = ask(tour, "GET", "/a?tag=x&tag=y", fields=fields)
    assert status == 201
    assert head["Cache-Control"] == "no-store"
    cookie = head["Set-Cookie"]
    assert cookie.startswith("session=abc")
    assert all(part in cookie for part in ("HttpOnly", "Secure", "SameSite=Lax"))
    assert json.loads(body) == {
        "method": "GET",
        "path": "/a",
        "tags": ["x", "y"],
        "agent": "tester",
        "session": "s1",
        "scheme": "http",
        "host": "example.test",
        "url": "http://example.test/a?tag=x&tag=y",
    }
    assert head["X-Answer"] == "dict"  # Stamp's before_response hook


@pytest.mark.integration
def test_json_forms_and_uploads(tour: int) -> None:
    json_fields = {"Content-Type": "application/json"}
    _, _, body = ask(tour, "POST", "/", b'{"a": 1}', json_fields)
    assert json.loads(body)["data"] == {"a": 1}
    assert ask(tour, "POST", "/", b"{not json", json_fields)[0] == 400  # BadRequest
    boundary = "b0undary"
    form = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="picture"; filename="photo.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
        "JPEG BYTES\r\n"
        f"--{boundary}--\r\n"
    ).encode()
    form_fields = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    _, _, body = ask(tour, "POST", "/", form, form_fields)
    assert json.loads(body)["picture"] == ["photo.jpg", "image/jpeg", 10]
