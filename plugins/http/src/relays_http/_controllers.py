"""Controllers: classes whose methods are pages, mounted at the path in their channel.

A :class:`Controller`'s channel is a URL path (``"/"``, ``"/blog"``); the
:class:`~relays_http.Dispatcher` maps a request's path to the controller mounted
at its longest prefix, and the next segment to a page (a method of that name),
else to the methods named after HTTP verbs (``GET``, ``POST``...), else to
``index``. The segments left over are the page's positional arguments; query and
form fields its keyword arguments (see :mod:`relays_http._arguments`).

What a class's pages are is worked out once, when the class is created, like the
kernel does for handlers: every public method of a :class:`Controller`, only the
``@expose``-d ones of a :class:`BaseController`. Methods marked ``@handler`` are
event handlers, never pages.

``self.request`` and ``self.response`` read a context variable set around each
call, so an ``async def`` page that awaits never sees another request's objects
(circuits set attributes on the controller, which concurrent pages overwrote).
"""

from __future__ import annotations

import contextvars
import inspect
import json
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, TypeVar, overload

import attrs

from relays import BaseComponent, Handler, handler, in_thread

from ._arguments import Signature
from ._cancellation import is_shielded
from ._cookies import ClientCookie, client_cookies
from ._errors import Forbidden, HTTPError, MethodNotAllowed, NotFound, Redirect, render_error_body
from ._request import Request
from ._response import Response
from .events import RequestEvent

__all__ = ["BaseController", "Controller", "JSONController", "expose"]

F = TypeVar("F", bound=Callable[..., Any])

#: The methods a controller method may be named after to handle that verb.
HTTP_METHODS = frozenset(
    ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT")
)
#: What ``Allow`` says for a page that takes any method.
ANY_METHOD = "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS"

_EXPOSE_ATTRIBUTE = "__relays_http_expose__"
_HANDLER_ATTRIBUTE = "__relays_handler__"  # relays' @handler marks methods with it

_current: contextvars.ContextVar[tuple[Request, Response]] = contextvars.ContextVar(
    "relays_http_current_request"
)


@attrs.frozen
class _Exposed:
    names: tuple[str, ...]
    methods: frozenset[str] | None
    stream: bool = False
    thread: bool | None = None  # None: the class's ``thread``


@attrs.frozen
class Page:
    """One page of a controller class: which method, for which verbs, taking what."""

    attribute: str
    methods: frozenset[str] | None
    signature: Signature = attrs.field(eq=False)
    is_async: bool  # run through ``controller_call`` (async, or in a thread)
    allow: str
    #: Whether its request body is streamed to it (``@expose(stream=True)``).
    stream: bool = False
    #: Whether it keeps running when its client goes away (``@shielded``).
    shielded: bool = False
    thread: bool = False


@overload
def expose(function: F, /) -> F: ...
@overload
def expose(
    *names: str,
    methods: Iterable[str] | None = None,
    stream: bool = False,
    thread: bool | None = None,
) -> Callable[[F], F]: ...
def expose(
    *names: Any,
    methods: Iterable[str] | None = None,
    stream: bool = False,
    thread: bool | None = None,
) -> Any:
    """Make a method a page: ``@expose``, ``@expose("robots.txt")``, ``@expose(methods=["POST"])``.

    *names* are the path segments it answers (default: its own name); *methods*
    the HTTP methods it accepts (default: any). Others get ``405`` with ``Allow``;
    ``HEAD`` is served by a page that accepts ``GET``; ``OPTIONS`` is answered for it.
    *stream* has the page called as soon as the request head arrives, to read the
    body itself with ``self.request.stream()`` (an ``async def`` page; form fields
    are not read for it). ``thread=True`` runs a plain (blocking) page in the kernel's
    thread pool, ``False`` on the loop; default: the class's
    :attr:`BaseController.thread`.
    """
    if (
        len(names) == 1
        and callable(names[0])
        and methods is None
        and not stream
        and thread is None
    ):
        setattr(names[0], _EXPOSE_ATTRIBUTE, _Exposed((), None))
        return names[0]
    if not all(isinstance(name, str) and name and "/" not in name for name in names):
        raise TypeError(f"expose() takes path segments (non-empty, no '/'), not {names!r}")
    verbs = None
    if methods is not None:
        verbs = frozenset(method.upper() for method in methods)
        unknown = verbs - HTTP_METHODS
        if unknown or not verbs:
            raise ValueError(f"expose(methods=...) takes HTTP methods, not {sorted(unknown)}")
    exposed = _Exposed(tuple(names), verbs, stream, thread)

    def decorate(function: F) -> F:
        setattr(function, _EXPOSE_ATTRIBUTE, exposed)
        return function

    return decorate


def _allow(methods: Iterable[str] | None) -> str:
    if methods is None:
        return ANY_METHOD
    allowed = set(methods) | {"OPTIONS"}
    if "GET" in allowed:
        allowed.add("HEAD")
    return ", ".join(sorted(allowed))


def _collect_pages(cls: type[BaseController]) -> tuple[dict[str, Page], dict[str, Page]]:
    chosen: dict[str, _Exposed] = {}
    for klass in reversed(cls.__mro__):
        if klass.__module__ == __name__ or not issubclass(klass, BaseController):
            continue  # the API of this module, and of relays, is no page
        for attribute, member in vars(klass).items():
            if not inspect.isfunction(member) or hasattr(member, _HANDLER_ATTRIBUTE):
                chosen.pop(attribute, None)
                continue
            exposed = getattr(member, _EXPOSE_ATTRIBUTE, None)
            if (
                attribute in _API
                and not attribute.startswith("_")
                and (exposed is not None or cls._expose_public)
            ):
                _refuse_api_name(cls, attribute)
            if exposed is not None:
                chosen[attribute] = exposed
            elif attribute in chosen:
                pass  # an override without a decorator stays a page
            elif cls._expose_public and not attribute.startswith("_"):
                chosen[attribute] = _Exposed((), None)
    pages: dict[str, Page] = {}
    verbs: dict[str, Page] = {}
    for attribute, exposed in chosen.items():
        function = getattr(cls, attribute)
        is_verb = attribute in HTTP_METHODS and not exposed.names
        methods = frozenset((attribute,)) if is_verb else exposed.methods
        is_async = inspect.iscoroutinefunction(function)
        thread = not is_async and (exposed.thread if exposed.thread is not None else cls.thread)
        page = Page(
            attribute,
            methods,
            Signature(function),
            is_async or thread,
            _allow(methods),
            exposed.stream,
            is_shielded(function),
            thread,
        )
        if is_verb:
            verbs[attribute] = page
        else:
            for name in exposed.names or (attribute,):
                pages[name] = page
    return pages, verbs


def _refuse_api_name(cls: type, attribute: str) -> None:
    """A page named like a method of the component API would replace that method
    (``fire``, ``wait``, ``register``...) and break the controller, or silently not
    be a page: say so when the class is made, with the way out."""
    raise TypeError(
        f"{cls.__qualname__}.{attribute} cannot be a page: {attribute!r} is a method of "
        f"the controller's component API. Rename the method and serve it at that "
        f"segment with @expose({attribute!r}), e.g. "
        f"'@expose({attribute!r}) def {attribute}_page(self): ...'"
    )


class _Call(RequestEvent):
    """``controller_call(page, request, response, segments)``, fired at a controller.

    How the dispatcher runs a page that must await (an ``async def`` page, or a
    form body to read first). A subclass of the request event because it answers
    one: a failure in it is the request's failure.
    """

    name = "controller_call"

    def shields(self, handler: Handler) -> bool:
        """A page marked ``@shielded`` keeps running when its client goes away."""
        page: Page = self.args[0]
        return page.shielded


class BaseController(BaseComponent):
    """A controller whose pages are only the methods marked with :func:`expose`.

    Its *channel* is the path it is mounted at (``"/"`` by default). Inside a page,
    :attr:`request` and :attr:`response` are the current request's.
    """

    channel: Any = "/"
    #: Run this class's plain pages in the kernel's thread pool (``relays serve
    #: --threads N`` makes it the default); ``@expose(thread=...)`` decides per page.
    thread: ClassVar[bool] = False
    _expose_public: ClassVar[bool] = False
    #: Pages by path segment, and by HTTP verb; filled in per class.
    _pages: ClassVar[dict[str, Page]] = {}
    _verbs: ClassVar[dict[str, Page]] = {}
    #: Whether results go through :meth:`_render` (only JSONController needs it).
    _renders: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._pages, cls._verbs = _collect_pages(cls)

    def __init__(self, *, channel: Any = None) -> None:
        super().__init__(channel=channel)
        if not isinstance(self.channel, str) or not self.channel.startswith("/"):
            raise ValueError(
                f"a controller's channel is the path it is mounted at, like '/' or "
                f"'/blog', not {self.channel!r}"
            )
        pages = [*type(self)._pages.values(), *type(self)._verbs.values()]
        self._bound: dict[str, Callable[..., Any]] = {
            page.attribute: getattr(self, page.attribute) for page in pages
        }
        #: Every segment that names a page, with the page (for the dispatcher).
        self.pages = type(self)._pages

    @property
    def mount_path(self) -> str:
        """The channel as the dispatcher keys it: no trailing slash, ``""`` for root."""
        return str(self.channel).rstrip("/")

    # -- what a page sees ------------------------------------------------------------

    @property
    def request(self) -> Request:
        """The request being answered (only inside a page)."""
        try:
            return _current.get()[0]
        except LookupError:
            raise RuntimeError("self.request is only set while a page runs") from None

    @property
    def response(self) -> Response:
        """The response being made (only inside a page)."""
        try:
            return _current.get()[1]
        except LookupError:
            raise RuntimeError("self.response is only set while a page runs") from None

    @property
    def cookie(self) -> dict[str, ClientCookie]:
        """The client's cookies, name to value: each value a ``str`` that also has
        circuits' ``.value`` (``self.cookie["x"].value``)."""
        return client_cookies(self.request.cookies)

    @property
    def uri(self) -> str:
        """The full URL of the request: ``"https://example.com/a?b=1"``."""
        return self.request.url

    def redirect(self, url: str, code: int = 303) -> Redirect:
        """A :class:`~relays_http.Redirect` to *url*: ``return self.redirect("/")``."""
        return Redirect(url, code)

    def forbidden(self, description: str | None = None) -> Forbidden:
        """A 403 to return or raise."""
        return Forbidden(description)

    def notfound(self, description: str | None = None) -> NotFound:
        """A 404 to return or raise."""
        return NotFound(description)

    # -- how the dispatcher finds and calls pages -------------------------------------

    def find(self, method: str, segments: list[str]) -> tuple[Page, list[str]] | Any:
        """The page for *method* and the *segments* under our path, and its arguments.

        Returns ``(page, arguments)``, an answer (a 405 error, the response to
        ``OPTIONS``), or None when nothing here fits.
        """
        pages = self.pages
        if segments and segments[0] in pages:
            page: Page | None = pages[segments[0]]
            segments = segments[1:]
        elif self._verbs:
            verbs = self._verbs
            page = verbs.get(method)
            if page is None and method == "HEAD":
                page = verbs.get("GET")
            if page is not None:
                return page, segments
            page = pages.get("index")  # verbs first, then index for the others
            if page is None:
                allow = _allow(verbs)
                if method == "OPTIONS":
                    return _options(allow)
                return MethodNotAllowed(allow.split(", "))
        else:
            page = pages.get("index")
            if page is None:
                return None
        assert page is not None
        methods = page.methods
        if methods is None:
            if method == "OPTIONS":
                return _options(page.allow)
        elif method not in methods and not (method == "HEAD" and "GET" in methods):
            if method == "OPTIONS":
                return _options(page.allow)
            return MethodNotAllowed(page.allow.split(", "))
        return page, segments

    def run_page(
        self, page: Page, request: Request, response: Response, args: Any, kwargs: Any
    ) -> Any:
        """Run a plain (not ``async``) page now; the dispatcher's fast path."""
        token = _current.set((request, response))
        try:
            if self._renders:
                try:
                    return self._render(self._bound[page.attribute](*args, **kwargs))
                except HTTPError as error:
                    return self._render_error(error)
            return self._bound[page.attribute](*args, **kwargs)
        finally:
            _current.reset(token)

    @handler("controller_call")
    async def _on_call(
        self, page: Page, request: Request, response: Response, segments: list[str]
    ) -> Any:
        _current.set((request, response))  # in this handler's own task context
        try:
            fields = await read_fields(request, form=not page.stream)
            bound = page.signature.bind(segments, fields)
            if bound is None:
                from ._dispatcher import explain_mismatch  # the dispatcher imports us

                explain_mismatch(self, page, request, segments, fields)
                return NotFound()
            args, kwargs = bound
            if page.thread:
                result = await in_thread(self._bound[page.attribute], self)(*args, **kwargs)
            else:
                result = self._bound[page.attribute](*args, **kwargs)
                if page.is_async:
                    result = await result
        except HTTPError as error:
            # Returned, not raised: the same answer, without an exception report.
            return self._render_error(error) if self._renders else error
        return self._render(result) if self._renders else result

    def _render(self, result: Any) -> Any:
        return result

    def _render_error(self, error: HTTPError) -> Any:
        return error


_API = frozenset(dir(BaseController))


def _options(allow: str) -> Response:
    return Response(status=204, headers={"allow": allow})


#: Content types whose body holds fields for a page's keyword arguments.
FORM_TYPES = frozenset(("application/x-www-form-urlencoded", "multipart/form-data"))


def query_fields(request: Request) -> dict[str, list[Any]] | None:
    """The query's fields, name to every value, or None when there is no query."""
    if not request.query_string:
        return None
    fields: dict[str, list[Any]] = {}
    for name, value in request.query.allitems():
        fields.setdefault(name, []).append(value)
    return fields


async def read_fields(request: Request, *, form: bool) -> dict[str, list[Any]] | None:
    """The query's fields, then the form body's (its files as UploadedFile)."""
    fields = query_fields(request)
    if form and request.content_type in FORM_TYPES:
        data = await request.form()
        fields = fields or {}
        for name, value in data.fields.allitems():
            fields.setdefault(name, []).append(value)
        for name, uploads in data.files.items():
            fields.setdefault(name, []).extend(uploads)
    return fields


class Controller(BaseController):
    """A controller whose public methods are all pages (circuits.web's ``Controller``).

    ``class Root(Controller): def index(self): return "Hello"``, mounted at ``"/"``.
    Methods named ``GET``, ``POST``... answer that verb on the controller's own
    path; ``@expose(methods=[...])`` restricts a page; ``@handler`` methods are
    event handlers, not pages.
    """

    _expose_public = True


class JSONController(Controller):
    """A controller whose pages' results, and HTTP errors, are sent as JSON.

    A page returns any JSON-serializable value (``None`` is still a 404); a
    :class:`~relays_http.Response` is sent as it is.
    """

    _renders = True

    def _render(self, result: Any) -> Any:
        if result is None or isinstance(result, Response | HTTPError):
            if isinstance(result, HTTPError):
                return self._render_error(result)
            return result
        self.response.headers["content-type"] = "application/json"
        return json.dumps(result, separators=(",", ":"), ensure_ascii=False)

    def _render_error(self, error: HTTPError) -> Any:
        body, content_type = render_error_body(error, as_json=True)
        response = Response(body, error.code, headers=error.headers, content_type=content_type)
        return response
