"""EncodingResourceWrapper: a wrapped resource answers gzip to clients that accept it, as
it streams; its children are not wrapped; curl decodes it on a real socket."""

from __future__ import annotations

import asyncio
import gzip
import shutil
import subprocess

import pytest

from relays_http import Server
from relays_http.testing import Client, memory_server, serve_in_thread
from relays_resources import (
    NOT_DONE_YET,
    EncoderFactory,
    EncodingResourceWrapper,
    GzipEncoderFactory,
    Resource,
    ResourceRequest,
    Site,
)

TEXT = b"<p>a resource worth compressing</p>" * 20


class Page(Resource):
    def render_GET(self, request: ResourceRequest) -> bytes:
        return TEXT


class Streamed(Resource):
    isLeaf = True

    def render_GET(self, request: ResourceRequest) -> object:
        request.write(b"first ")

        def later() -> None:
            request.write(b"second")
            request.finish()

        asyncio.get_running_loop().call_soon(later)
        return NOT_DONE_YET


def tree() -> Resource:
    root = Resource()
    page = Page()
    page.putChild(b"child", Page())
    root.putChild(b"page", EncodingResourceWrapper(page, [GzipEncoderFactory()]))
    root.putChild(b"stream", EncodingResourceWrapper(Streamed(), [GzipEncoderFactory()]))
    root.putChild(b"deflate", EncodingResourceWrapper(Page(), [EncoderFactory("deflate")]))
    return root


async def test_a_wrapped_resource_is_compressed() -> None:
    server, transport = memory_server(Site(tree()))
    async with server:
        client = Client(transport)
        response = await client.get("/page", headers={"Accept-Encoding": "gzip, deflate"})
        assert response.headers["content-encoding"] == "gzip"
        assert response.headers["vary"] == "Accept-Encoding"
        assert gzip.decompress(response.body) == TEXT
        plain = await client.get("/page")
        assert (plain.body, "content-encoding" in plain.headers) == (TEXT, False)
        child = await client.get("/page/child", headers={"Accept-Encoding": "gzip"})
        assert (child.body, "content-encoding" in child.headers) == (TEXT, False)
        only_gzip = await client.get("/deflate", headers={"Accept-Encoding": "gzip"})
        assert "content-encoding" not in only_gzip.headers


async def test_a_streamed_render_is_compressed_as_it_streams() -> None:
    server, transport = memory_server(Site(tree()))
    async with server:
        response = await Client(transport).get("/stream", headers={"Accept-Encoding": "gzip"})
        assert response.headers["transfer-encoding"] == "chunked"
        assert gzip.decompress(response.body) == b"first second"


def test_a_wrapper_needs_an_encoder() -> None:
    with pytest.raises(ValueError, match="encoder factory"):
        EncodingResourceWrapper(Page(), [])


@pytest.mark.integration
def test_curl_decodes_a_wrapped_resource() -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed (apt-get install curl)")
    with serve_in_thread(Server("tcp://127.0.0.1:0") + Site(tree())) as server:
        result = subprocess.run(
            [curl, "-sS", "--compressed", "-D", "-", f"http://127.0.0.1:{server.port}/page"],
            capture_output=True,
            check=True,
            timeout=10,
        )
        head, _, body = result.stdout.partition(b"\r\n\r\n")
        assert b"content-encoding: gzip" in head.lower()
        assert body == TEXT
