"""Session ids and signed cookie values: what verifies, what never does."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relays_sessions import Signer
from relays_sessions._signing import MAX_COOKIE_VALUE, new_session_id

SECRET = "s" * 32


def test_ids_are_random_and_cookie_safe() -> None:
    ids = {new_session_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", session_id) for session_id in ids)


def test_a_signed_id_verifies_and_nothing_else_does() -> None:
    signer = Signer(SECRET)
    session_id = new_session_id()
    value = signer.sign(session_id)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}", value)
    assert signer.unsign(value) == (session_id, False)
    other_id = new_session_id()
    assert signer.unsign(other_id + value[43:]) is None
    flipped = value[:-1] + ("A" if value[-1] != "A" else "B")
    assert signer.unsign(flipped) is None
    assert Signer("t" * 32).unsign(value) is None


def test_old_secrets_verify_but_never_sign() -> None:
    old = Signer("old-secret-" * 3)
    value = old.sign("a" * 43)
    rotated = Signer("new-secret-" * 3, old_secrets=["old-secret-" * 3])
    assert rotated.unsign(value) == ("a" * 43, True)
    assert rotated.sign("a" * 43) != value
    assert rotated.unsign(rotated.sign("a" * 43)) == ("a" * 43, False)


def test_short_secrets_are_refused_with_advice() -> None:
    with pytest.raises(ValueError, match="token_urlsafe"):
        Signer("short")
    with pytest.raises(ValueError, match="at least 16 bytes"):
        Signer(SECRET, old_secrets=[b"x"])


@given(st.text(max_size=MAX_COOKIE_VALUE * 2))
def test_any_text_either_verifies_or_is_none(value: str) -> None:
    assert Signer(SECRET).unsign(value) is None


@given(st.binary(max_size=64).map(lambda data: data.decode("latin-1")))
def test_any_bytes_as_latin1_are_refused(value: str) -> None:
    signer = Signer(SECRET)
    genuine = signer.sign(new_session_id())
    assert signer.unsign(value) is None
    assert signer.unsign(genuine + value) in (None, signer.unsign(genuine))
    assert signer.unsign(value + genuine) in (None, signer.unsign(genuine))
