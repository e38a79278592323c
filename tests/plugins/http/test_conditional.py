"""Conditional GET for pages: validators, RFC 9110 precedence, autotags, caching helpers;
with curl revalidating on a real socket."""

from __future__ import annotations

import datetime
import gzip
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relays import Component
from relays.testing import MemoryTransport
from relays_http import (
    BaseServer,
    Compression,
    ConditionalGet,
    Request,
    Response,
    Server,
    cache_control,
    check_preconditions,
    evaluate_preconditions,
    expires,
    http_date,
    make_etag,
    parse_etags,
)
from relays_http.testing import Client, memory_server, serve_in_thread

MODIFIED = 1_700_000_000  # 2023-11-14T22:13:20Z
BEFORE = http_date(MODIFIED - 60)
AT = http_date(MODIFIED)
AFTER = http_date(MODIFIED + 60)
PAGE = "the page, long enough to be compressed. " * 20


class Pages(Component):
    channel = "web"

    def __init__(self) -> None:
        super().__init__()
        self.version = 1
        self.runs = 0

    def request(self, request: Request, response: Response) -> Any:
        self.runs += 1
        if request.path == "/tagged":
            response.headers["ETag"] = f'"v{self.version}"'
            response.headers["Last-Modified"] = AT
            return PAGE
        if request.path == "/dated":
            response.headers["Last-Modified"] = AT
            return {"version": self.version}
        if request.path == "/plain":
            return PAGE
        if request.path == "/own":
            return Response(PAGE, headers={"ETag": '"own"'}, content_type="text/plain")
        if request.path == "/update":
            check_preconditions(request, etag=f'"v{self.version}"')
            self.version += 1
            return "updated"
        if request.path == "/cached":
            expires(response, 3600)
            cache_control(response, public=True, max_age=3600, immutable=True)
            return "cached"
        return None


def serve(**options: Any) -> tuple[BaseServer, MemoryTransport, Pages]:
    pages = Pages()
    server, transport = memory_server(ConditionalGet(**options), pages)
    return server, transport, pages


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"If-None-Match": '"v1"'}, 304),
        ({"If-None-Match": 'W/"v1"'}, 304),  # weak comparison
        ({"If-None-Match": '"v0", "v1"'}, 304),
        ({"If-None-Match": "*"}, 304),
        ({"If-None-Match": '"v0"'}, 200),
        ({"If-None-Match": '"v0"', "If-Modified-Since": AFTER}, 200),  # the tag decides
        ({"If-Modified-Since": AT}, 304),
        ({"If-Modified-Since": AFTER}, 304),
        ({"If-Modified-Since": BEFORE}, 200),
        ({"If-Modified-Since": "not a date"}, 200),
        ({"If-Match": '"v1"'}, 200),
        ({"If-Match": 'W/"v1"'}, 412),  # strong comparison
        ({"If-Match": '"v0"'}, 412),
        ({"If-Match": '"v0"', "If-None-Match": '"v1"'}, 412),  # If-Match first
        ({"If-Unmodified-Since": BEFORE}, 412),
        ({"If-Unmodified-Since": AT}, 200),
        ({"If-Match": '"v1"', "If-Unmodified-Since": BEFORE}, 200),  # If-Match wins
    ],
)
async def test_preconditions_in_rfc_order(fields: dict[str, str], status: int) -> None:
    server, transport, _ = serve()
    async with server:
        response = await Client(transport).get("/tagged", headers=fields)
        assert response.status == status
        if status == 304:
            assert response.body == b""
            assert response.headers["etag"] == '"v1"'
            assert response.headers["content-type"] == "text/html; charset=utf-8"
            assert "content-length" not in response.headers
        if status == 200:
            assert response.text == PAGE


async def test_last_modified_alone() -> None:
    server, transport, _ = serve()
    async with server:
        client = Client(transport)
        response = await client.get("/dated", headers={"If-Modified-Since": AT})
        assert response.status == 304
        assert response.headers["content-type"] == "application/json"
        assert (await client.get("/dated", headers={"If-Modified-Since": BEFORE})).status == 200


async def test_a_response_of_its_own_is_changed_in_place() -> None:
    server, transport, _ = serve()
    async with server:
        response = await Client(transport).get("/own", headers={"If-None-Match": '"own"'})
        assert response.status == 304
        assert response.headers["content-type"] == "text/plain"


async def test_head_is_conditional_too_and_post_is_not() -> None:
    server, transport, _ = serve()
    async with server:
        client = Client(transport)
        head = await client.request("HEAD", "/tagged", headers={"If-None-Match": '"v1"'})
        assert head.status == 304
        post = await client.post("/tagged", headers={"If-None-Match": '"v1"'})
        assert post.status == 200


async def test_pages_without_validators_are_left_alone() -> None:
    server, transport, _ = serve()
    async with server:
        response = await Client(transport).get("/plain", headers={"If-None-Match": "*"})
        assert response.status == 200


async def test_autotags_give_bodies_an_etag() -> None:
    server, transport, pages = serve(autotags=True)
    async with server:
        client = Client(transport)
        first = await client.get("/plain")
        assert first.headers["etag"] == make_etag(PAGE.encode())
        again = await client.get("/plain", headers={"If-None-Match": first.headers["etag"]})
        assert (again.status, again.body) == (304, b"")
        assert pages.runs == 2  # the page runs; only the body is spared


async def test_an_update_checks_before_it_acts() -> None:
    server, transport, pages = serve()
    async with server:
        client = Client(transport)
        stale = await client.post("/update", headers={"If-Match": '"v0"'})
        assert (stale.status, pages.version) == (412, 1)
        fresh = await client.post("/update", headers={"If-Match": '"v1"'})
        assert (fresh.status, fresh.text, pages.version) == (200, "updated", 2)
        created = await client.post("/update", headers={"If-None-Match": "*"})
        assert created.status == 412  # it exists already


async def test_with_compression_the_tag_of_the_plain_body_revalidates() -> None:
    pages = Pages()
    server, transport = memory_server(ConditionalGet(autotags=True), Compression(), pages)
    async with server:
        client = Client(transport)
        first = await client.get("/plain", headers={"Accept-Encoding": "gzip"})
        assert first.headers["content-encoding"] == "gzip"
        assert first.headers["etag"] == "W/" + make_etag(PAGE.encode())
        again = await client.get(
            "/plain",
            headers={"Accept-Encoding": "gzip", "If-None-Match": first.headers["etag"]},
        )
        assert (again.status, again.body) == (304, b"")
        assert "content-encoding" not in again.headers
        stale = await client.get(
            "/tagged", headers={"Accept-Encoding": "gzip", "If-Match": '"v0"'}
        )
        assert stale.status == 412
        assert stale.text == "the resource changed since you last read it"


async def test_expires_and_cache_control() -> None:
    server, transport, _ = serve()
    async with server:
        response = await Client(transport).get("/cached")
        assert response.headers["cache-control"] == "public, immutable, max-age=3600"
        expiry = datetime.datetime.strptime(
            response.headers["expires"], "%a, %d %b %Y %H:%M:%S GMT"
        ).replace(tzinfo=datetime.UTC)
        assert expiry > datetime.datetime.now(datetime.UTC)


def test_expires_keeps_other_directives() -> None:
    response = Response()
    now = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
    response.headers["Cache-Control"] = "private, max-age=5"
    expires(response, datetime.timedelta(minutes=2), now=now)
    assert response.headers["cache-control"] == "private, max-age=120"
    assert response.headers["expires"] == "Tue, 01 Jan 2030 00:02:00 GMT"
    expires(response, now - datetime.timedelta(days=1), now=now)
    assert response.headers["cache-control"] == "private, max-age=0"


@pytest.mark.parametrize(
    "options",
    [{"public": True, "private": True}, {"max_age": -1}, {}, {"s_maxage": 1.5}],
)
def test_cache_control_refuses_nonsense(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"public or private|seconds|directive"):
        cache_control(Response(), **options)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        http_date(datetime.datetime(2030, 1, 1))


def test_parse_etags() -> None:
    assert parse_etags("*") is None
    assert parse_etags('"a", W/"b" ,"c,d", junk, "e') == [
        (False, "a"),
        (True, "b"),
        (False, "c,d"),
    ]


@given(st.text())
def test_any_etag_field_parses(field: str) -> None:
    tags = parse_etags(field)
    assert tags is None or all('"' not in tag for _, tag in tags)


@given(
    st.lists(
        st.tuples(st.booleans(), st.text(alphabet="abcdef0123456789-_.", max_size=10)),
        max_size=10,
    )
)
def test_well_formed_etag_lists_parse_to_their_tags(tags: list[tuple[bool, str]]) -> None:
    field = ", ".join(("W/" if weak else "") + f'"{tag}"' for weak, tag in tags)
    assert parse_etags(field) == tags


@given(
    st.dictionaries(
        st.sampled_from(["if-match", "if-none-match", "if-modified-since", "if-unmodified-since"]),
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126)),
    ),
    st.sampled_from(["GET", "HEAD", "POST", "PUT"]),
)
def test_any_conditions_give_an_outcome(fields: dict[str, str], method: str) -> None:
    request = Request(
        method, "/", headers=[(k.encode(), v.encode("latin-1")) for k, v in fields.items()]
    )
    outcome = evaluate_preconditions(request, '"v1"', AT)
    assert outcome in (None, 304, 412)
    if method not in ("GET", "HEAD"):
        assert outcome != 304


@pytest.fixture
def curl() -> str:
    path = shutil.which("curl")
    if path is None:
        pytest.skip("curl is not installed (apt-get install curl)")
    return path


@pytest.fixture
def live_server() -> Iterator[BaseServer]:
    server = Server("tcp://127.0.0.1:0") + ConditionalGet(autotags=True) + Compression()
    with serve_in_thread(server + Pages()) as running:
        yield running


@pytest.mark.integration
def test_curl_revalidates_with_the_etag_it_got(
    curl: str, live_server: BaseServer, tmp_path: Any
) -> None:
    url = f"http://127.0.0.1:{live_server.port}/plain"
    tags = tmp_path / "etags"
    first = subprocess.run(
        [
            curl,
            "-sS",
            "--compressed",
            "--etag-save",
            str(tags),
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            url,
        ],
        capture_output=True,
        check=True,
        timeout=10,
        text=True,
    )
    assert first.stdout == "200"
    again = subprocess.run(
        [
            curl,
            "-sS",
            "--compressed",
            "--etag-compare",
            str(tags),
            "-w",
            "%{http_code}",
            "-o",
            "/dev/null",
            url,
        ],
        capture_output=True,
        check=True,
        timeout=10,
        text=True,
    )
    assert again.stdout == "304"
    raw = subprocess.run(
        [curl, "-sS", "-H", "Accept-Encoding: gzip", url],
        capture_output=True,
        check=True,
        timeout=10,
    )
    assert gzip.decompress(raw.stdout).decode() == PAGE
