"""TrustedProxies: proxy headers believed only from trusted peers, rightmost-untrusted."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relays_http import Request, Response
from relays_http._proxy import TrustedProxies, parse_forwarded

PROXIES = TrustedProxies(["10.0.0.0/8", "::1", "127.0.0.1"])


def handle(
    headers: list[tuple[bytes, bytes]],
    peer: str = "10.0.0.1",
    proxies: TrustedProxies = PROXIES,
) -> Request:
    request = Request("GET", "/p", headers=[(b"host", b"internal:8080"), *headers])
    request.remote = (peer, 5000)
    proxies._on_request(request, Response())
    return request


def test_untrusted_peer_is_ignored() -> None:
    request = handle([(b"x-forwarded-for", b"1.2.3.4")], peer="203.0.113.9")
    assert request.remote == ("203.0.113.9", 5000)
    assert "proxy" not in request.context


def test_rightmost_untrusted_is_the_client() -> None:
    request = handle([(b"x-forwarded-for", b"6.6.6.6, 1.2.3.4, 10.0.0.7")])
    assert request.remote == ("1.2.3.4", 0)  # 6.6.6.6 was written by the client: ignored
    assert request.context["proxy"]["remote"] == ("10.0.0.1", 5000)


def test_all_trusted_takes_the_leftmost() -> None:
    request = handle([(b"x-forwarded-for", b"10.1.1.1, 10.2.2.2")])
    assert request.remote == ("10.1.1.1", 0)


def test_garbage_ends_the_walk() -> None:
    request = handle([(b"x-forwarded-for", b"1.2.3.4, nonsense, 10.0.0.9")])
    assert request.remote == ("10.0.0.9", 0)


def test_x_forwarded_proto_and_host() -> None:
    request = handle(
        [
            (b"x-forwarded-for", b"1.2.3.4"),
            (b"x-forwarded-proto", b"HTTPS"),
            (b"x-forwarded-host", b"example.com"),
        ]
    )
    assert (request.scheme, request.host) == ("https", "example.com")
    assert request.url == "https://example.com/p"
    assert request.headers["host"] == "example.com"


def test_hop_values_follow_the_client_position() -> None:
    request = handle(
        [
            (b"x-forwarded-for", b"1.2.3.4, 10.0.0.5"),
            (b"x-forwarded-proto", b"https, http"),
            (b"x-forwarded-host", b"bad host!"),
        ]
    )
    assert request.scheme == "https"
    assert request.host == "internal:8080"  # an unsafe host is not taken


def test_forwarded_header() -> None:
    value = b'for=6.6.6.6, for="[2001:db8::17]:4711";proto=https;host=example.org, for=10.0.0.3'
    request = handle([(b"forwarded", value), (b"x-forwarded-for", b"9.9.9.9")])
    assert request.remote == ("2001:db8::17", 4711)
    assert (request.scheme, request.host) == ("https", "example.org")


def test_forwarded_can_be_switched_off() -> None:
    proxies = TrustedProxies(["10.0.0.0/8"], headers=["x-forwarded"])
    request = handle(
        [(b"forwarded", b"for=5.5.5.5"), (b"x-forwarded-for", b"9.9.9.9")], proxies=proxies
    )
    assert request.remote == ("9.9.9.9", 0)


def test_ipv6_peer_and_obfuscated_node() -> None:
    request = handle([(b"forwarded", b"for=_hidden, for=1.2.3.4")], peer="::1")
    assert request.remote == ("1.2.3.4", 0)
    request = handle([(b"forwarded", b"for=unknown")], peer="::1")
    assert request.remote == ("::1", 5000)


def test_parse_forwarded() -> None:
    assert parse_forwarded('For="a\\"b";Proto=https , for=x') == [
        {"for": 'a"b', "proto": "https"},
        {"for": "x"},
    ]
    assert parse_forwarded("") == []
    assert parse_forwarded("garbage") == []


@given(st.text(max_size=60))
def test_parse_forwarded_never_fails(value: str) -> None:
    elements = parse_forwarded(value)
    assert all(isinstance(element, dict) for element in elements)


@given(st.text(max_size=60))
def test_any_header_is_handled(value: str) -> None:
    encoded = value.encode("utf-8")
    request = handle([(b"forwarded", encoded), (b"x-forwarded-for", encoded)])
    assert isinstance(request.remote, tuple)


@pytest.mark.parametrize(
    ("entry", "kind"), [("nonsense", ValueError), ("10.0.0.0/33", ValueError)]
)
def test_configuration_errors(entry: str, kind: Any) -> None:
    with pytest.raises(kind, match="trusted proxy"):
        TrustedProxies([entry])
    with pytest.raises(ValueError, match="headers="):
        TrustedProxies([], headers=["via"])
