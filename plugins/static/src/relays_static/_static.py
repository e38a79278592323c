"""``Static``: a directory served at a URL prefix, as a dispatcher component.

Theory of operation
-------------------
:class:`Static` listens for ``request`` on the server's channel in the
``Priority.DISPATCH`` band, above the controller dispatcher (``FALLBACK``), and
answers only what is its own: a request outside its prefix, or for a file that
does not exist, gets ``None`` ("not mine") and goes on to the next handler, so a
static directory
and an application can share a URL space and a request nobody answers is the
server's 404. Once it answers it stops the event.

What it refuses it answers itself, so no other handler gets a chance to serve
a path that tried to leave the directory: a segment that is not a plain file
name is a 404, a symlink that leads outside is a 403
(:mod:`relays_static._paths`). Methods other than GET and HEAD on a file are a
405 with ``Allow``.

A directory requested without its trailing slash is redirected (301) to the
slash form, so relative links in its index page work; with the slash, the first
index file that exists is served, else the listing when it is on, else a 403.
"""

from __future__ import annotations

import os
import stat as stat_module
from collections.abc import Iterable, Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import quote

from relays import BaseComponent, Event, Priority, handler
from relays_http import (
    Forbidden,
    HTTPError,
    MethodNotAllowed,
    NotFound,
    Redirect,
    Request,
    Response,
)

from ._files import DEFAULT_PRECOMPRESSED, FileOptions, answer_with_file, empty_body
from ._limits import StaticLimits
from ._listing import render_listing
from ._mime import MediaTypes
from ._paths import PathRefused, resolve_path, split_url_path

__all__ = ["Static"]

_METHODS = ("GET", "HEAD")


def _normalise_prefix(path: str) -> str:
    if not path.startswith("/"):
        raise ValueError(f"a Static path is a URL prefix starting with '/', not {path!r}")
    return path.rstrip("/")  # "" for "/"


class Static(BaseComponent):
    """Serve the files under *docroot* at URL prefix *path*.

    ``Server(...) + Static("/static", docroot="./public")``. Options:

    - *index_files*: names tried, in order, for a directory URL ending in ``/``;
    - *listing*: show an HTML listing of directories without an index file;
    - *hidden_files*: serve and list names starting with ``.`` (``.well-known``
      always is);
    - *follow_symlinks*: follow symbolic links that stay under *docroot* (links
      that leave it are always refused);
    - *precompressed*: ``(coding, suffix)`` pairs looked for next to a file, in
      order of preference (``()`` turns them off);
    - *cache_control*: ``(pattern, value)`` pairs (or a mapping); the first
      :func:`~fnmatch.fnmatchcase` pattern matching the path under the prefix
      (``"assets/*"``, ``"*.html"``) gives the ``Cache-Control`` value;
    - *nosniff*: send ``X-Content-Type-Options: nosniff``;
    - *media_types*: extra ``".ext": "type"`` pairs; *charset*: the charset of
      text types;
    - *limits*: a :class:`~relays_static.StaticLimits`.
    """

    channel = "web"

    def __init__(
        self,
        path: str = "/static",
        docroot: str | os.PathLike[str] = ".",
        *,
        channel: Any = "web",
        index_files: Sequence[str] = ("index.html",),
        listing: bool = False,
        hidden_files: bool = False,
        follow_symlinks: bool = True,
        precompressed: Iterable[tuple[str, str]] = DEFAULT_PRECOMPRESSED,
        cache_control: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        nosniff: bool = True,
        media_types: Mapping[str, str] | None = None,
        charset: str = "utf-8",
        limits: StaticLimits | None = None,
    ) -> None:
        super().__init__(channel=channel)
        root = os.path.realpath(docroot)
        if not os.path.isdir(root):
            raise ValueError(f"the docroot of Static must be a directory: {docroot!r} is not")
        #: The URL prefix, without its trailing slash (``""`` for ``/``).
        self.path = _normalise_prefix(path)
        #: The real path of the served directory.
        self.docroot = root
        self.index_files = tuple(index_files)
        self.listing = listing
        self.hidden_files = hidden_files
        self.follow_symlinks = follow_symlinks
        pairs = cache_control.items() if isinstance(cache_control, Mapping) else cache_control
        self.cache_control: tuple[tuple[str, str], ...] = tuple(pairs)
        self.options = FileOptions(
            media_types=MediaTypes(media_types, charset=charset),
            limits=limits if limits is not None else StaticLimits(),
            nosniff=nosniff,
            precompressed=tuple(precompressed),
        )

    def __repr__(self) -> str:
        return f"<Static {self.path or '/'} -> {self.docroot}>"

    def cache_control_for(self, relative: str) -> str | None:
        """The ``Cache-Control`` value for *relative* (the path under the prefix)."""
        for pattern, value in self.cache_control:
            if fnmatchcase(relative, pattern):
                return value
        return None

    @handler("request", priority=Priority.DISPATCH)
    def _on_request(self, event: Event, request: Request, response: Response) -> Any:
        raw_path = request.raw_path
        prefix = self.path
        if prefix:
            if not raw_path.startswith(prefix):
                return None
            rest = raw_path[len(prefix) :]
            if rest and rest[0] != "/":
                return None  # "/staticfoo" is not under "/static"
        else:
            rest = raw_path
        answer = self.answer(request, response, rest)
        if answer is not None:
            event.stop()
        return answer

    def answer(self, request: Request, response: Response, rest: str) -> Any:
        """The answer for *rest*, the raw path under the prefix; None if not ours."""
        try:
            segments = split_url_path(rest, hidden_files=self.hidden_files)
        except PathRefused:
            return NotFound("no such file")  # never say why: it helps only an attacker
        try:
            real, file_stat = resolve_path(
                self.docroot, segments, follow_symlinks=self.follow_symlinks
            )
        except HTTPError as error:
            return error
        if file_stat is None:
            return None
        if request.method not in _METHODS:
            return MethodNotAllowed(_METHODS)
        relative = "/".join(segments)
        if stat_module.S_ISDIR(file_stat.st_mode):
            if not rest.endswith("/"):
                # Rebuilt from the checked segments, never from the raw path: "//host"
                # would make a redirect to another site.
                query = request.query_string
                location = "/".join([self.path, *(quote(segment) for segment in segments)])
                location = f"{location}/" + (f"?{query}" if query else "")
                return Redirect(location, 301)
            return self._answer_directory(request, response, real, relative)
        if not stat_module.S_ISREG(file_stat.st_mode):
            return None
        return answer_with_file(
            request,
            response,
            real,
            self.options,
            root=self.docroot,
            cache_control=self.cache_control_for(relative),
        )

    def _answer_directory(
        self, request: Request, response: Response, directory: str, relative: str
    ) -> Any:
        for name in self.index_files:
            try:
                real, index_stat = resolve_path(
                    self.docroot,
                    [*relative.split("/"), name] if relative else [name],
                    follow_symlinks=self.follow_symlinks,
                )
            except HTTPError as error:
                return error
            if index_stat is None or not stat_module.S_ISREG(index_stat.st_mode):
                continue
            index_relative = f"{relative}/{name}" if relative else name
            return answer_with_file(
                request,
                response,
                real,
                self.options,
                root=self.docroot,
                cache_control=self.cache_control_for(index_relative),
            )
        if not self.listing:
            return Forbidden("this directory has no index page and listing is off")
        url_path = f"{self.path}/{relative}/" if relative else f"{self.path}/"
        body = render_listing(
            directory,
            url_path,
            hidden_files=self.hidden_files,
            limit=self.options.limits.max_listing_entries,
        )
        response.headers["content-type"] = "text/html; charset=utf-8"
        response.headers["cache-control"] = "no-cache"
        if self.options.nosniff:
            response.headers["x-content-type-options"] = "nosniff"
        if request.method == "HEAD":
            response.headers["content-length"] = str(len(body))
            response.body = empty_body()
        else:
            response.body = body
        return response
