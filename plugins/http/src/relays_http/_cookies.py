"""Cookies: reading the client's ``Cookie`` field, writing ``Set-Cookie`` (RFC 6265).

Reading is lenient, because browsers send what other sites set: a pair that does
not parse is skipped, never an error, so one bad cookie cannot lock a user out.
Writing is strict, because we produce it: a name must be a token and a value
cookie-octets (RFC 6265 4.1.1), and no attribute may hold ``;``, CR, LF or other
control characters, so an app that copies user input into a cookie cannot inject
attributes or header lines.

Cookies the client sent and cookies the response sets are different objects
(``request.cookies`` and ``response.cookies``): the client's are never echoed back.
"""

from __future__ import annotations

import datetime
import re
from email.utils import format_datetime
from typing import Any, Literal

import attrs

__all__ = ["ClientCookie", "Cookie", "parse_cookie_header"]

_TOKEN = re.compile(r"[-!#$%&'*+.^_`|~0-9A-Za-z]+")
# cookie-octet: US-ASCII except controls, whitespace, DQUOTE, comma, semicolon, backslash;
# a value is cookie-octets, or cookie-octets between two double quotes (never one alone).
_OCTETS = r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*"
_COOKIE_VALUE = re.compile(f'{_OCTETS}|"{_OCTETS}"')
_ATTRIBUTE_VALUE = re.compile(r"[\x20-\x3a\x3c-\x7e]*")

SameSite = Literal["Strict", "Lax", "None"]


def parse_cookie_header(value: str) -> dict[str, str]:
    """``"a=1; b=2"`` -> ``{"a": "1", "b": "2"}``; the first of repeated names wins.

    Pairs without ``=`` or with an empty or invalid name are skipped; values lose
    one pair of surrounding double quotes. Never raises.
    """
    cookies: dict[str, str] = {}
    for part in value.split(";"):
        name, equals, cookie_value = part.partition("=")
        name = name.strip()
        if not equals or not name or _TOKEN.fullmatch(name) is None:
            continue
        cookie_value = cookie_value.strip()
        if len(cookie_value) >= 2 and cookie_value[0] == cookie_value[-1] == '"':
            cookie_value = cookie_value[1:-1]
        cookies.setdefault(name, cookie_value)
    return cookies


class ClientCookie(str):
    """A cookie the client sent: its value, a ``str``, that also answers circuits'
    (:mod:`http.cookies`) shape, ``cookie["x"].value``, so ported pages keep working."""

    __slots__ = ("key",)

    key: str

    def __new__(cls, key: str, value: str) -> ClientCookie:
        cookie = super().__new__(cls, value)
        cookie.key = key
        return cookie

    @property
    def value(self) -> str:
        """The value, as a plain ``str`` (``http.cookies.Morsel.value``)."""
        return str(self)

    @property
    def coded_value(self) -> str:
        """The value as sent (``http.cookies.Morsel.coded_value``)."""
        return str(self)


def client_cookies(cookies: dict[str, str]) -> dict[str, ClientCookie]:
    """*cookies* (``request.cookies``) with :class:`ClientCookie` values."""
    return {name: ClientCookie(name, value) for name, value in cookies.items()}


def _check_name(instance: Cookie, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or _TOKEN.fullmatch(value) is None:
        raise ValueError(f"cookie name must be a token (letters, digits, -_.!...): {value!r}")


def _check_value(instance: Cookie, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or _COOKIE_VALUE.fullmatch(value) is None:
        raise ValueError(
            f"cookie {instance.name!r} value may not hold spaces, quotes, commas, semicolons, "
            f"backslashes or control characters; encode it (e.g. base64url) first: {value!r}"
        )


def _check_attribute(instance: Cookie, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and (
        not isinstance(value, str) or _ATTRIBUTE_VALUE.fullmatch(value) is None
    ):
        raise ValueError(
            f"cookie {instance.name!r} {attribute.name} may not hold ';' or control "
            f"characters: {value!r}"
        )


def _check_samesite(instance: Cookie, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and value not in ("Strict", "Lax", "None"):
        raise ValueError(f"cookie SameSite must be 'Strict', 'Lax' or 'None', not {value!r}")


@attrs.frozen
class Cookie:
    """One cookie to set; :meth:`render` gives the ``Set-Cookie`` field value.

    *expires* is an aware :class:`datetime.datetime` (naive means UTC); *max_age*
    is in seconds (0 or less deletes the cookie at once). ``samesite="None"``
    needs ``secure=True`` in current browsers.
    """

    name: str = attrs.field(validator=_check_name)
    value: str = attrs.field(default="", validator=_check_value)
    path: str | None = attrs.field(default="/", validator=_check_attribute)
    domain: str | None = attrs.field(default=None, validator=_check_attribute)
    max_age: int | None = None
    expires: datetime.datetime | None = None
    secure: bool = False
    httponly: bool = False
    samesite: SameSite | None = attrs.field(default=None, validator=_check_samesite)

    def render(self) -> str:
        """The ``Set-Cookie`` field value: ``name=value; Path=/; HttpOnly; ...``."""
        parts = [f"{self.name}={self.value}"]
        if self.path is not None:
            parts.append(f"Path={self.path}")
        if self.domain is not None:
            parts.append(f"Domain={self.domain}")
        if self.max_age is not None:
            parts.append(f"Max-Age={int(self.max_age)}")
        if self.expires is not None:
            expires = self.expires
            if expires.tzinfo is None:
                expires = expires.replace(tzinfo=datetime.UTC)
            parts.append(
                f"Expires={format_datetime(expires.astimezone(datetime.UTC), usegmt=True)}"
            )
        if self.secure:
            parts.append("Secure")
        if self.httponly:
            parts.append("HttpOnly")
        if self.samesite is not None:
            parts.append(f"SameSite={self.samesite}")
        return "; ".join(parts)
