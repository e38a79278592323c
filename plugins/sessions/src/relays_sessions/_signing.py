"""Session ids and the signed cookie values that carry them.

An id is 32 random bytes from :mod:`secrets`, base64url-encoded (43 characters).
The cookie holds ``<id>.<signature>``, the signature being HMAC-SHA256 of the id
under the current secret, base64url too, so every character is cookie-safe.

Signing does not hide the id (it is random already); it lets us refuse a made-up
or altered cookie *before* asking the store, so guessing ids costs the attacker
one HMAC per try on our side and never a store lookup. Old secrets verify but
never sign: rotate by putting the new secret first and the old one in
``old_secrets`` until every cookie signed with it has expired.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence

__all__ = ["MAX_COOKIE_VALUE", "MIN_SECRET_BYTES", "Signer", "new_session_id"]

#: Bytes of randomness in a session id (256 bits).
ID_BYTES = 32
#: Shortest secret accepted, in bytes once encoded.
MIN_SECRET_BYTES = 16
#: Longest cookie value even looked at; anything longer is a fresh session.
MAX_COOKIE_VALUE = 256

_ID = re.compile(r"[A-Za-z0-9_-]{43}")
# A purpose prefix, so a signature made here is useless for any other HMAC use of the key.
_PURPOSE = b"relays-session-id:"


def new_session_id() -> str:
    """A new random session id: 43 base64url characters."""
    return secrets.token_urlsafe(ID_BYTES)


def _key(secret: str | bytes) -> bytes:
    key = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    if len(key) < MIN_SECRET_BYTES:
        raise ValueError(
            f"a session secret must be at least {MIN_SECRET_BYTES} bytes; make one with "
            "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return key


class Signer:
    """Signs session ids with *secret*; verifies with it and with *old_secrets*."""

    __slots__ = ("_keys",)

    def __init__(self, secret: str | bytes, old_secrets: Sequence[str | bytes] = ()) -> None:
        self._keys = [_key(secret), *(_key(old) for old in old_secrets)]

    def _signature(self, key: bytes, session_id: str) -> str:
        digest = hmac.new(key, _PURPOSE + session_id.encode("ascii"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def sign(self, session_id: str) -> str:
        """The cookie value for *session_id*: ``<id>.<signature>``."""
        return f"{session_id}.{self._signature(self._keys[0], session_id)}"

    def unsign(self, value: str) -> tuple[str, bool] | None:
        """``(session_id, signed_with_an_old_secret)``, or None for anything not ours.

        Never raises: a tampered, truncated, oversize or random value is just None.
        """
        if len(value) > MAX_COOKIE_VALUE:
            return None
        session_id, dot, signature = value.rpartition(".")
        # Both halves are 43 base64url characters (a SHA-256 digest is 32 bytes too);
        # checking first also keeps non-ASCII text away from compare_digest.
        if not dot or _ID.fullmatch(session_id) is None or _ID.fullmatch(signature) is None:
            return None
        for index, key in enumerate(self._keys):
            if hmac.compare_digest(self._signature(key, session_id), signature):
                return session_id, index > 0
        return None
