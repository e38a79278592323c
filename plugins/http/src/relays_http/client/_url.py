"""Parsing request URLs into the origin to connect to and the target to send."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import SplitResult, quote, unquote, urlencode, urlsplit

import attrs

from ._errors import InvalidURL

__all__ = ["Origin", "ProxyRoute", "QueryParams", "RequestURL", "Route", "parse_url"]

QueryParams = (
    Mapping[str, str | int | float | Sequence[str | int | float]]
    | Sequence[tuple[str, str | int | float]]
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: Characters left as they are in a path or query we percent-encode for the wire.
_SAFE = "/:@!$&'()*+,;=?%-._~[]"


@attrs.frozen
class Origin:
    """Where a connection goes: scheme, host and port. The pool keys connections on it."""

    scheme: str
    host: str
    port: int

    @property
    def is_tls(self) -> bool:
        """Whether connections to this origin speak TLS."""
        return self.scheme == "https"

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host_header}"

    @property
    def host_header(self) -> str:
        """The ``Host`` field's value: the port only when it is not the scheme's default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        if _DEFAULT_PORTS[self.scheme] == self.port:
            return host
        return f"{host}:{self.port}"


@attrs.frozen
class ProxyRoute:
    """The way to an origin through an HTTP proxy.

    For an ``https`` origin, a CONNECT tunnel through the proxy to ``target``, then TLS
    with the target inside it; for ``http`` ones, ``target`` is None: requests go to the
    proxy with the whole URL as target, and one connection serves every such origin.
    """

    proxy: Origin
    target: Origin | None
    #: ``(user, password)`` for ``Proxy-Authorization``, from the proxy's URL.
    credentials: tuple[str, str] | None = None

    def __str__(self) -> str:
        return f"{self.target or 'http'} via the proxy {self.proxy}"


#: Where a pooled connection goes: straight to an origin, or through a proxy.
Route = Origin | ProxyRoute


@attrs.frozen
class RequestURL:
    """A parsed request URL: its origin, the target to send, and the URL as text."""

    origin: Origin
    target: bytes
    url: str
    #: ``(user, password)`` from the URL, if it held credentials.
    credentials: tuple[str, str] | None = None


def parse_url(url: str, params: QueryParams | None = None) -> RequestURL:
    """Split ``url`` (with ``params`` added to its query) into what a request needs."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise InvalidURL(f"invalid URL {url!r}: {error}") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise InvalidURL(f"cannot request {url!r}: the URL must start with http:// or https://")
    host = parts.hostname
    if not host:
        raise InvalidURL(f"cannot request {url!r}: the URL has no host")
    try:
        host.encode("ascii")
    except UnicodeEncodeError:
        host = host.encode("idna").decode("ascii")
    origin = Origin(scheme, host, port if port is not None else _DEFAULT_PORTS[scheme])
    query = parts.query
    if params:
        items = params.items() if isinstance(params, Mapping) else params
        encoded = urlencode(list(items), doseq=True)
        query = f"{query}&{encoded}" if query else encoded
    path = quote(parts.path or "/", safe=_SAFE)
    target = path + ("?" + quote(query, safe=_SAFE) if query else "")
    credentials = None
    if parts.username is not None:
        credentials = (unquote(parts.username), unquote(parts.password or ""))
    text = SplitResult(scheme, parts.netloc, parts.path or "/", query, "").geturl()
    return RequestURL(origin, target.encode("ascii"), text, credentials)
