"""Cross-origin resource sharing (CORS): which other sites' pages may call this server.

Theory of operation
-------------------
A browser running a page from another origin sends that origin in ``Origin``.
For a request it considers risky (a method other than GET/HEAD/POST, or headers
beyond a few plain ones) it first asks with a *preflight*: ``OPTIONS`` carrying
``Access-Control-Request-Method`` and maybe ``Access-Control-Request-Headers``.

:class:`CORS` answers preflights itself, in ``before_request`` at
:data:`CORS_PRIORITY` (before sessions and the application: a preflight carries no
credentials and must not reach the pages): a ``204`` that lists the allowed
methods and headers and how long the browser may remember that (``max_age``), or
a ``403`` that says what was refused. To the actual requests from an allowed
origin it adds ``Access-Control-Allow-Origin`` (and ``-Credentials``,
``-Expose-Headers``) in ``before_response``, error pages included. Requests
without ``Origin``, or from an origin not allowed, are left alone: the browser
then refuses the page the answer; the server's other clients are unaffected.

Every answer that depends on ``Origin`` says ``Vary: Origin``, so a cache does not
hand one site's permission to another.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any, Literal

from relays import BaseComponent, Priority, handler

from ._errors import HTTPError
from ._request import Request
from ._response import Response

__all__ = ["CORS", "CORS_PRIORITY"]

#: The ``before_request`` priority of :class:`CORS`: before relays-sessions
#: (:attr:`relays.Priority.PREPARE`), so preflights load no session.
CORS_PRIORITY = Priority.PREPARE + 10
#: Methods a browser sends without a preflight; always allowed.
SIMPLE_METHODS = frozenset({"GET", "HEAD", "POST"})


def _add_vary(headers: Any, names: str) -> None:
    vary = headers.get("vary") or headers.get("Vary")
    headers["vary"] = names if not vary else f"{vary}, {names}"


class CORS(BaseComponent):
    """Let pages from *allow_origins* call this server from a browser.

    *allow_origins* is ``"*"`` (any origin), a collection of origins
    (``"https://app.example.com"``: scheme, host and port, as browsers send them), or
    a callable deciding per origin. *allow_methods* and *allow_headers* are what a
    preflight may ask for (``allow_headers="*"``: any); *expose_headers* the response
    fields the calling page may read; *allow_credentials* lets it send cookies and
    read the answer (the origin is then always named, never ``*``); *max_age* the
    seconds a browser may remember a preflight's answer. *paths* limits it all to
    path prefixes (``("/api/",)``).
    """

    channel = "web"

    def __init__(
        self,
        allow_origins: Literal["*"] | Collection[str] | Callable[[str], bool],
        *,
        allow_methods: Sequence[str] = ("GET", "HEAD", "POST"),
        allow_headers: Literal["*"] | Sequence[str] = (),
        expose_headers: Sequence[str] = (),
        allow_credentials: bool = False,
        max_age: int | None = 600,
        paths: Sequence[str] = ("/",),
        channel: Any = "web",
    ) -> None:
        super().__init__(channel=channel)
        if isinstance(allow_origins, str) and allow_origins != "*":
            raise ValueError(
                f"allow_origins is '*', a collection of origins or a callable, not "
                f"{allow_origins!r}: write [{allow_origins!r}]"
            )
        if max_age is not None and (type(max_age) is not int or max_age < 0):
            raise ValueError(f"max_age is a number of seconds >= 0, not {max_age!r}")
        self._any_origin = allow_origins == "*"
        self._origins: frozenset[str] = (
            frozenset(o.lower().rstrip("/") for o in allow_origins)
            if not callable(allow_origins) and not self._any_origin
            else frozenset()
        )
        self._decide = allow_origins if callable(allow_origins) else None
        self.allow_methods = tuple(method.upper() for method in allow_methods)
        self._methods = frozenset(self.allow_methods) | SIMPLE_METHODS
        self._any_header = allow_headers == "*"
        self.allow_headers = () if self._any_header else tuple(allow_headers)
        self._headers = frozenset(name.lower() for name in self.allow_headers)
        self.expose_headers = tuple(expose_headers)
        self.allow_credentials = allow_credentials
        self.max_age = max_age
        self.paths = tuple(paths)

    def allows(self, origin: str) -> bool:
        """Whether pages from *origin* may call this server."""
        if self._any_origin:
            return True
        if self._decide is not None:
            return bool(self._decide(origin))
        return origin.lower() in self._origins

    def _allow_origin_value(self, origin: str) -> str:
        return "*" if self._any_origin and not self.allow_credentials else origin

    def _in_scope(self, request: Request) -> str | None:
        origin = request.header(b"origin")
        if origin is None or not request.path.startswith(self.paths):
            return None
        return origin.decode("latin-1")

    @handler("before_request", priority=CORS_PRIORITY)
    def _on_before_request(self, request: Request, response: Response) -> Any:
        if request.method != "OPTIONS":
            return None
        wanted = request.header(b"access-control-request-method")
        origin = self._in_scope(request)
        if wanted is None or origin is None:
            return None  # a plain OPTIONS request: the application's
        page = Response(None, 204)
        _add_vary(
            page.headers, "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
        )
        if not self.allows(origin):
            return self._refused(page, f"the origin {origin} may not call this server")
        method = wanted.decode("latin-1").strip().upper()
        if method not in self._methods:
            return self._refused(page, f"the method {method} is not allowed from other origins")
        field = request.header(b"access-control-request-headers")
        names = [n.strip() for n in field.decode("latin-1").split(",")] if field else []
        names = [name for name in names if name]
        if not self._any_header:
            refused = [name for name in names if name.lower() not in self._headers]
            if refused:
                return self._refused(
                    page, f"the header(s) {', '.join(refused)} are not allowed from other origins"
                )
        headers = page.headers
        headers["access-control-allow-origin"] = self._allow_origin_value(origin)
        headers["access-control-allow-methods"] = ", ".join(
            sorted(self._methods, key=lambda m: (m not in self.allow_methods, m))
        )
        if names:
            headers["access-control-allow-headers"] = ", ".join(names)
        if self.allow_credentials:
            headers["access-control-allow-credentials"] = "true"
        if self.max_age is not None:
            headers["access-control-max-age"] = str(self.max_age)
        return page

    def _refused(self, page: Response, reason: str) -> Response:
        page.status = 403
        page.body = reason + "\n"
        page.headers["content-type"] = "text/plain; charset=utf-8"
        return page

    @handler("before_response", priority=CORS_PRIORITY)
    def _on_before_response(self, request: Request, response: Response, result: Any) -> Any:
        origin = self._in_scope(request)
        if origin is None:
            return None
        if request.method == "OPTIONS" and request.header(b"access-control-request-method"):
            return None  # a preflight: answered in full by _on_before_request
        if isinstance(result, Response):
            headers: Any = result.headers
        elif isinstance(result, HTTPError):
            headers = result.headers  # the error page is made from these
        elif isinstance(result, BaseException):
            return None  # a 500: made by the server from scratch
        else:
            headers = response.headers
        vary = headers.get("vary") or headers.get("Vary")
        varies = not self._any_origin or self.allow_credentials  # the answer names origins
        if varies and (not vary or "origin" not in vary.lower()):
            _add_vary(headers, "Origin")
        if not self.allows(origin):
            return None
        headers["access-control-allow-origin"] = self._allow_origin_value(origin)
        if self.allow_credentials:
            headers["access-control-allow-credentials"] = "true"
        if self.expose_headers:
            headers["access-control-expose-headers"] = ", ".join(self.expose_headers)
        return None
