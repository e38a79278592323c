"""Request: the target, query, headers, cookies and body, decoded on demand."""

from __future__ import annotations

import io
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relays_http import BadRequest, Headers, Limits, Request, target_parts


def make(target: str = "/", **options: object) -> Request:
    return Request("GET", target, **options)  # type: ignore[arg-type]


def test_path_and_query() -> None:
    request = make("/a%20b/c?x=1&x=2&y=&z")
    assert request.path == "/a b/c"
    assert request.raw_path == "/a%20b/c"
    assert request.query_string == "x=1&x=2&y=&z"
    assert request.query.getall("x") == ["1", "2"]
    assert request.query["y"] == ""
    assert request.query.get("missing") is None


def test_absolute_form_target() -> None:
    request = make("http://example.com/p?q=1")
    assert (request.path, request.query["q"]) == ("/p", "1")
    assert request.url == "http://example.com/p?q=1"
    assert make("http://example.com").path == "/"


def test_targets_split_into_raw_path_path_and_query() -> None:
    assert target_parts("/a/b?x=1&y") == ("/a/b", "/a/b", "x=1&y")
    assert target_parts("/") == ("/", "/", "")
    assert target_parts("http://example.com/p?q") == ("/p", "/p", "q")
    assert target_parts("http://example.com") == ("/", "/", "")
    assert target_parts("/a%20b?c%20d") == ("/a%20b", "/a b", "c%20d")
    assert target_parts("*") == ("*", "*", "")
    # The query starts at the first "?", even before the authority's end.
    assert target_parts("http://example.com?q/r") == ("/", "/", "q/r")


# Targets as a client may send them (Latin-1 text, as the server decodes the bytes):
# origin-form, absolute-form, with or without a query, percent-escapes included.
_TARGET_TEXT = st.text(st.characters(max_codepoint=255, exclude_characters="\r\n "), max_size=12)
_TARGETS = st.one_of(
    st.builds(lambda rest: "/" + rest, _TARGET_TEXT),
    st.builds(lambda authority, rest: f"http://{authority}{rest}", _TARGET_TEXT, _TARGET_TEXT),
    st.builds(lambda path: "/" + path.replace("%", "%25"), _TARGET_TEXT),
    _TARGET_TEXT,
)


@given(_TARGETS)
def test_a_request_splits_its_target_by_target_parts(target: str) -> None:
    # One rule: what a Request says of its target is what head takers get.
    raw_path, path, query = target_parts(target)
    request = make(target)
    assert (request.raw_path, request.path, request.query_string) == (raw_path, path, query)
    assert request.original_path == path
    assert query == target.partition("?")[2]
    assert "?" not in raw_path


@pytest.mark.parametrize(
    ("target", "host"),
    [
        ("http://example.com:8080/p?q=1", "example.com:8080"),
        ("http://user@example.com", "example.com"),
        ("https://[::1]:443?x", "[::1]:443"),
    ],
)
def test_an_absolute_form_target_names_the_host_whatever_host_says(target: str, host: str) -> None:
    request = make(target, headers=[(b"host", b"other.example")])
    assert request.host == host
    assert request.url == target  # both from the target (RFC 9112 3.2.2)


def test_headers_are_case_insensitive_and_multi_valued() -> None:
    request = make(headers=[(b"host", b"h:1"), (b"x-tag", b"a"), (b"x-tag", b"b")])
    assert request.headers["X-Tag"] == "a"
    assert request.headers.getall("x-TAG") == ["a", "b"]
    assert request.header(b"host") == b"h:1"
    assert request.host == "h:1"
    assert request.url == "http://h:1/"


def test_raw_headers_are_the_received_pairs_with_changes_made_through_headers() -> None:
    request = make(headers=[(b"host", b"h:1"), (b"x-tag", b"a"), (b"x-tag", b"b")])
    raw = request.raw_headers
    assert raw == [(b"host", b"h:1"), (b"x-tag", b"a"), (b"x-tag", b"b")]
    raw.clear()  # a copy: the request keeps its fields
    assert request.header(b"x-tag") == b"a"
    request.headers["X-Tag"] = "c"
    request.headers.add("X-New", "\xe9")
    assert request.raw_headers == [(b"host", b"h:1"), (b"x-tag", b"c"), (b"x-new", b"\xe9")]


def test_host_falls_back_to_the_local_address() -> None:
    assert make(local=("::1", 80)).host == "[::1]:80"
    assert make(local=("127.0.0.1", 8000), scheme="https").url == "https://127.0.0.1:8000/"


def test_cookies() -> None:
    request = make(headers=[(b"cookie", b'a=1; b="two"; bad; =x'), (b"cookie", b"a=9; c=3")])
    assert request.cookies == {"a": "1", "b": "two", "c": "3"}


async def test_body_as_bytes_text_json_and_file() -> None:
    request = make(
        headers=[(b"content-type", b"application/json; charset=utf-8")], body=b'{"a": [1]}'
    )
    assert request.content == b'{"a": [1]}'
    assert await request.read() == b'{"a": [1]}'
    assert await request.text() == '{"a": [1]}'
    assert await request.json() == {"a": [1]}
    assert request.body.read() == b'{"a": [1]}'
    assert request.content_type == "application/json"
    assert request.content_length == 10


async def test_spooled_body() -> None:
    request = make(body=io.BufferedRandom(io.BytesIO(b"spooled")))  # type: ignore[arg-type]
    assert await request.read() == b"spooled"
    assert request.content_length == 7


async def test_bad_json_and_text_are_400() -> None:
    with pytest.raises(BadRequest, match="not valid JSON"):
        await make(body=b"{nope").json()
    with pytest.raises(BadRequest, match="utf-8"):
        await make(body=b"\xff").text()


def test_keep_alive() -> None:
    assert make().keep_alive
    assert not make(headers=[(b"connection", b"close")]).keep_alive
    assert not make(http_version="1.0").keep_alive
    assert make(http_version="1.0", headers=[(b"connection", b"keep-alive")]).keep_alive


def test_given_headers_object() -> None:
    request = make(headers=Headers({"Content-Type": "text/plain"}))
    assert request.header(b"content-type") == b"text/plain"
    assert request.content_type == "text/plain"


def test_rewrite_path_and_host() -> None:
    request = Request(
        "GET", "/a%20b?q=1", headers=[(b"host", b"example.com"), (b"cookie", b"c=1")]
    )
    assert request.cookies == {"c": "1"}
    request.rewrite(path="/site/a%20b")
    assert (request.raw_path, request.path) == ("/site/a%20b", "/site/a b")
    assert (request.target, request.original_path, request.query_string) == (
        "/a%20b?q=1",
        "/a b",
        "q=1",
    )
    assert request.url == "http://example.com/a%20b?q=1"
    request.rewrite(host="public.example.org:8443")
    assert request.host == "public.example.org:8443"
    assert request.headers.getall("host") == ["public.example.org:8443"]
    assert request.url == "http://public.example.org:8443/a%20b?q=1"
    assert request.cookies == {"c": "1"}
    made = Request("GET", "/", headers=Headers([("Host", "a")]))
    made.rewrite(host="b")
    assert (made.host, made.header(b"host")) == ("b", b"b")


@pytest.mark.parametrize(
    "options",
    [
        {"path": "relative"},
        {"path": "/with?query"},
        {"path": "/sp ace"},
        {"path": "/new\r\nline"},
        {"path": "/é"},
        {"host": ""},
        {"host": "a b"},
        {"host": "evil\r\nX: y"},
        {"host": "a/b"},
    ],
)
def test_rewrite_refuses_what_could_not_be_sent(options: dict[str, str]) -> None:
    with pytest.raises(ValueError, match=r"rewritten path|a host is"):
        make().rewrite(**options)


class CountingConnection:
    """A connection handle that counts what a request asks of it."""

    secure = True

    def __init__(self) -> None:
        self.asked: list[str] = []

    @property
    def peer(self) -> tuple[str, int]:
        self.asked.append("peer")
        return ("10.0.0.1", 4000)

    @property
    def local(self) -> tuple[str, int]:
        self.asked.append("local")
        return ("10.0.0.2", 8443)


def test_a_request_asks_its_connection_only_when_asked() -> None:
    """``remote``, ``local`` and ``scheme`` not given are read from the connection on
    first use (once), so a transport may work them out lazily; they can still be set."""
    sock = CountingConnection()
    limits = Limits()
    request = Request("GET", "/", headers=[], sock=sock, limits=limits)  # type: ignore[arg-type]
    assert sock.asked == []
    assert request.url == "https://10.0.0.2:8443/"  # no Host: our own address
    assert request.local == ("10.0.0.2", 8443)
    assert sock.asked == ["local"]
    assert request.remote == ("10.0.0.1", 4000)
    assert request.remote == ("10.0.0.1", 4000)
    assert sock.asked == ["local", "peer"]
    request.remote, request.scheme, request.local = "client", "http", None
    assert (request.remote, request.scheme, request.local) == ("client", "http", None)
    request.context["seen"] = True
    assert request.context == {"seen": True}
    made = Request("GET", "/", remote="peer", local="here", scheme="https")
    assert (made.remote, made.local, made.scheme, made.context) == ("peer", "here", "https", {})
    alone = Request("GET", "/")  # made by hand, no connection: nothing to ask
    assert (alone.remote, alone.local, alone.scheme, alone.url) == (
        None,
        None,
        "http",
        "http://localhost/",
    )


@pytest.mark.parametrize("body", [b"", b"data", io.BytesIO(b"spooled")])
def test_the_servers_constructor_sets_every_slot_as_init_does(body: Any) -> None:
    """``Request._received`` (the server's, kept for speed) and ``__init__`` make the
    same request from the same arguments, slot by slot: a slot added to one and not the
    other fails here."""
    sock, limits = CountingConnection(), Limits()
    headers = [(b"host", b"example.com")]
    made = Request(
        "POST",
        "/a?b=1",
        http_version="1.0",
        headers=headers,
        body=body,
        sock=sock,  # type: ignore[arg-type]
        limits=limits,
        received_at=12.5,
    )
    received = Request._received("POST", "/a?b=1", "1.0", headers, body, sock, limits, 12.5)  # type: ignore[arg-type]
    for slot in Request.__slots__:
        assert getattr(received, slot) is getattr(made, slot) or (
            getattr(received, slot) == getattr(made, slot)
        ), slot
    assert sock.asked == []
