"""HTTP errors a handler raises (or returns), and the error pages they become.

An :class:`HTTPError` is an answer, not a failure: raising ``NotFound()`` in a
handler is how it says "404", and the server logs nothing for it. Any other
exception becomes a 500 whose page never shows the traceback or the exception's
message unless the server runs with ``debug=True``: a traceback tells an attacker
file paths, library versions and sometimes secrets.

Pages are HTML, or JSON when the client's ``Accept`` prefers
``application/json`` over ``text/html`` (an API client gets something it can
parse). Every text that reaches a page is escaped.
"""

from __future__ import annotations

import html
import json
import logging
import traceback
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from relays import BaseComponent, Priority, handler

from ._headers import Headers
from ._response import Response

if TYPE_CHECKING:
    from ._request import Request

__all__ = [
    "ERROR_PAGES_PRIORITY",
    "BadRequest",
    "ErrorPages",
    "Forbidden",
    "HTTPError",
    "InternalServerError",
    "MethodNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "Redirect",
    "RequestTimeout",
    "ServiceUnavailable",
    "Unauthorized",
    "UnsupportedMediaType",
    "error_response",
    "prefers_json",
    "render_error_body",
]


def _phrase(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Error"


def _description(code: int) -> str:
    try:
        return HTTPStatus(code).description
    except ValueError:
        return ""


class HTTPError(Exception):
    """An HTTP error response: ``raise HTTPError(404, "no such user")``.

    *code* is the status (400 to 599, or 3xx for :class:`Redirect`), *description*
    a sentence for the client (default: the status's standard description), and
    *headers* extra response fields (``WWW-Authenticate``, ``Retry-After``...).
    """

    #: The status code; subclasses fix it.
    code: int = 500
    #: An HTTP error is an answer, not a failure: raising one fires no ``exception``
    #: event (the kernel honours this attribute), so nothing logs a 404 as a crash.
    relays_exception_event = False

    def __init__(
        self,
        code: int | None = None,
        description: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if code is not None:
            self.code = code
        if type(self.code) is not int or not 300 <= self.code <= 599:
            raise ValueError(f"an HTTP error code is an int from 300 to 599, not {self.code!r}")
        self.description = description if description is not None else _description(self.code)
        #: The extra response fields, read without regard to case
        #: (``error.headers["Location"]`` is ``error.headers["location"]``).
        self.headers = Headers(headers)
        super().__init__(self.code, self.description)

    @property
    def status(self) -> int:
        """The status code, by the name :attr:`Response.status <relays_http.Response.status>`
        uses; :attr:`code` is the same number, kept for circuits code."""
        return self.code

    @status.setter
    def status(self, value: int) -> None:
        self.code = value

    @property
    def name(self) -> str:
        """The reason phrase: ``"Not Found"``."""
        return _phrase(self.code)

    def __str__(self) -> str:
        return f"{self.code} {self.name}: {self.description}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code}, {self.description!r})"


class _Fixed(HTTPError):
    """An error with a fixed code: the first argument is the description."""

    def __init__(
        self, description: str | None = None, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(None, description, headers=headers)


class BadRequest(_Fixed):
    """400: the request is malformed (a bad form, invalid JSON, a missing field)."""

    code = 400


class Unauthorized(_Fixed):
    """401: authenticate first; *challenge* becomes ``WWW-Authenticate``."""

    code = 401

    def __init__(
        self,
        description: str | None = None,
        *,
        challenge: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        fields = Headers(headers)
        if challenge is not None:
            fields["www-authenticate"] = challenge
        super().__init__(description, headers=fields)


class Forbidden(_Fixed):
    """403: the client may not do this."""

    code = 403


class NotFound(_Fixed):
    """404: nothing here (also what a request nobody answered gets)."""

    code = 404


class MethodNotAllowed(_Fixed):
    """405: *allowed* methods become the ``Allow`` field, as RFC 9110 15.5.6 requires."""

    code = 405

    def __init__(
        self,
        allowed: Iterable[str] = (),
        description: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.allowed = tuple(allowed)
        fields = Headers(headers)
        fields["allow"] = ", ".join(self.allowed)
        super().__init__(description, headers=fields)


class RequestTimeout(_Fixed):
    """408: the client took too long to send its request."""

    code = 408


class PayloadTooLarge(_Fixed):
    """413: the request body (or a form field or file in it) is over a limit."""

    code = 413


class UnsupportedMediaType(_Fixed):
    """415: the body's Content-Type is not one this handler reads."""

    code = 415


class InternalServerError(_Fixed):
    """500: the server failed; what any unexpected exception becomes."""

    code = 500


class ServiceUnavailable(_Fixed):
    """503: overloaded or stopping; *retry_after* (seconds) becomes ``Retry-After``."""

    code = 503

    def __init__(
        self,
        description: str | None = None,
        *,
        retry_after: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        fields = Headers(headers)
        if retry_after is not None:
            fields["retry-after"] = str(int(retry_after))
        super().__init__(description, headers=fields)


class Redirect(HTTPError):
    """A redirection to *location*: 303 See Other by default.

    Use 301/308 for permanent moves (308 keeps the method and body), 302/307 for
    temporary ones (307 keeps them), 303 to send the client to GET another page
    after a POST.
    """

    def __init__(self, location: str, code: int = 303) -> None:
        if code not in (301, 302, 303, 307, 308):
            raise ValueError(f"a redirect code is 301, 302, 303, 307 or 308, not {code!r}")
        self.location = location
        super().__init__(code, f"This resource is at {location}.", headers={"location": location})


def prefers_json(accept: str | None) -> bool:
    """Whether an ``Accept`` value ranks ``application/json`` above ``text/html``."""
    if not accept or "json" not in accept:
        return False
    best_json = best_html = -1.0
    for item in accept.split(","):
        media, _, parameters = item.partition(";")
        media = media.strip().lower()
        quality = 1.0
        for parameter in parameters.split(";"):
            key, _, value = parameter.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media == "application/json" or media.endswith("+json"):
            best_json = max(best_json, quality)
        elif media in ("text/html", "text/*", "*/*"):
            best_html = max(best_html, quality)
    return best_json > 0 and best_json >= best_html


def render_error_body(
    error: HTTPError, *, as_json: bool, traceback: str | None = None
) -> tuple[bytes, str]:
    """The page for *error*: ``(body, content type)``; *traceback* only in debug mode."""
    if as_json:
        document: dict[str, object] = {
            "status": error.code,
            "error": error.name,
            "description": error.description,
        }
        if traceback is not None:
            document["traceback"] = traceback
        return json.dumps(document).encode("utf-8"), "application/json"
    title = f"{error.code} {html.escape(error.name)}"
    parts = [
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>",
        f"<title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n",
        f"<p>{html.escape(error.description)}</p>\n",
    ]
    if traceback is not None:
        parts.append(f"<pre>{html.escape(traceback)}</pre>\n")
    parts.append("</body></html>\n")
    return "".join(parts).encode("utf-8"), "text/html; charset=utf-8"


def error_response(
    error: BaseException,
    response: Response,
    *,
    accept: str | None,
    debug: bool,
    report: Callable[[str], object] | None,
) -> Response:
    """The page a request that failed with *error* is answered with, body included.

    An :class:`HTTPError` is answered as it is. Any other error is a 500 that tells the
    client nothing (the traceback only with *debug*) and is given to *report* as a
    formatted traceback, for the server's log (None: the caller reported it already,
    as the kernel does for a failing handler). The page is JSON when *accept* (the
    request's ``Accept`` field) prefers it, else HTML; ``nosniff`` either way. Below
    500, the cookies *response* had set go with the page, so a login's cookie survives
    its :class:`Redirect`.
    """
    trace = None
    if isinstance(error, HTTPError):
        http_error = error
    else:
        lines = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        if report is not None:
            report(lines)
        http_error = InternalServerError()
        if debug:
            trace = lines
    body, content_type = render_error_body(
        http_error, as_json=prefers_json(accept), traceback=trace
    )
    page = Response(body, http_error.code, headers=http_error.headers)
    page.headers["content-type"] = content_type
    page.headers["x-content-type-options"] = "nosniff"
    if http_error.code < 500 and response.cookies:
        page.cookies.update(response.cookies)
    return page


logger = logging.getLogger("relays.http")

#: The ``before_response`` priority of :class:`ErrorPages`: after the application's
#: handlers, before :data:`~relays_http.CONDITIONAL_PRIORITY` and compression (so an
#: error page of yours is compressed like any page).
ERROR_PAGES_PRIORITY = Priority.CLEANUP + 80

#: What makes an error page: called with the request and the error, it returns the
#: body (``str``, ``bytes``, JSON) or a :class:`~relays_http.Response` of its own.
PageMaker = Callable[["Request", HTTPError], Any]


class ErrorPages(BaseComponent):
    """Your own pages for errors: ``ErrorPages({404: not_found}, default=oops)``.

    *pages* maps a status code to a :data:`PageMaker`; *default* (if given) makes the
    page of every other error. A request nobody answered is a
    :class:`NotFound`; an exception a handler raised is an
    :class:`InternalServerError` (the exception was logged already, and never reaches
    the maker, so its page cannot leak it). The page keeps the error's status and
    fields (``WWW-Authenticate``, ``Allow``...). A maker that fails is logged, and
    the server's own page is sent instead.
    """

    channel = "web"

    def __init__(
        self,
        pages: Mapping[int, PageMaker] | None = None,
        *,
        default: PageMaker | None = None,
        channel: Any = "web",
    ) -> None:
        super().__init__(channel=channel)
        self.pages = dict(pages or {})
        self.default = default
        for code in self.pages:
            if type(code) is not int or not 300 <= code <= 599:
                raise ValueError(f"error pages are for codes 300 to 599, not {code!r}")

    @handler("before_response", priority=ERROR_PAGES_PRIORITY)
    def _on_before_response(self, request: Request, response: Response, result: Any) -> Any:
        if result is None:
            error: HTTPError = NotFound()
        elif isinstance(result, HTTPError):
            error = result
        elif isinstance(result, BaseException):
            error = InternalServerError()
        else:
            return None
        maker = self.pages.get(error.code)
        if maker is None:
            if error.code < 400:  # a Redirect is an answer, not an error to dress up
                return None
            maker = self.default
        if maker is None:
            return None
        try:
            page = maker(request, error)
        except Exception:
            logger.exception("the error page for %s %s failed", error.code, request.target)
            return None
        if isinstance(page, Response):
            return page
        # Into the server's own response (see Compression): later handlers see it there.
        response.status = error.code
        response.body = page
        for name, value in error.headers.items():
            response.headers[name] = value
        if error.code >= 500 and response.cookies:
            response.cookies.clear()  # as the server's own 5xx pages: no cookie
        return response
