"""Access: the peer's network and the token, without a server."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relays_inspector import Access, Verdict, new_token

TOKEN = new_token()


def test_a_new_token_is_random_and_long() -> None:
    assert new_token() != new_token()
    assert len(TOKEN) >= 32


def test_a_short_token_is_refused() -> None:
    with pytest.raises(ValueError, match="16 characters"):
        Access("short")


@pytest.mark.parametrize(
    "remote",
    [("127.0.0.1", 5000), ("127.8.9.10", 1), ("::1", 2), ("::ffff:127.0.0.1", 3), None, "/sock"],
)
def test_loopback_and_unix_peers_are_local(remote: object) -> None:
    assert Access(TOKEN).peer_allowed(remote)


@pytest.mark.parametrize("remote", [("10.0.0.5", 5000), ("192.168.1.2", 1), ("2001:db8::1", 2)])
def test_other_peers_are_refused_by_default(remote: object) -> None:
    access = Access(TOKEN)
    assert not access.peer_allowed(remote)
    assert access.check(remote, TOKEN, None) is Verdict.PEER_REFUSED


def test_allowed_networks_and_everyone() -> None:
    access = Access(TOKEN, allow=("10.0.0.0/8",))
    assert access.peer_allowed(("10.1.2.3", 1))
    assert not access.peer_allowed(("127.0.0.1", 1))
    assert Access(TOKEN, allow=("*",)).peer_allowed(("203.0.113.9", 1))
    assert not access.peer_allowed(("not an address", 1))


def test_the_verdicts() -> None:
    access = Access(TOKEN)
    local = ("127.0.0.1", 1)
    assert access.check(local, TOKEN, None) is Verdict.ALLOWED_SET_COOKIE
    assert access.check(local, None, TOKEN) is Verdict.ALLOWED
    assert access.check(local, None, None) is Verdict.TOKEN_REFUSED
    assert access.check(local, None, TOKEN + "x") is Verdict.TOKEN_REFUSED
    # a wrong token in the link is refused even with the right cookie
    assert access.check(local, "wrong", TOKEN) is Verdict.TOKEN_REFUSED


@given(st.text())
def test_any_other_text_is_not_the_token(offered: str) -> None:
    access = Access(TOKEN)
    assert access.token_matches(offered) is (offered == TOKEN)
    verdict = access.check(("127.0.0.1", 1), None, offered)
    assert (verdict is Verdict.ALLOWED) is (offered == TOKEN)
