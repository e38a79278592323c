"""``serve_file`` and ``serve_download``: a file as the answer of a controller's page.

Unlike :class:`~relays_static.Static` these trust the path they are given: the
controller chose it, so there is no document root to stay in. Everything else
(validators, conditional requests, ranges, pre-compressed variants, streaming)
is the same code.
"""

from __future__ import annotations

import os

from relays_http import HTTPError, NotFound, Request, Response

from ._files import FileOptions, answer_with_file, content_disposition
from ._limits import StaticLimits

__all__ = ["serve_download", "serve_file"]

_DEFAULT_OPTIONS = FileOptions()


def serve_file(
    request: Request,
    response: Response,
    path: str | os.PathLike[str],
    content_type: str | None = None,
    *,
    disposition: str | None = None,
    name: str | None = None,
    cache_control: str | None = None,
    limits: StaticLimits | None = None,
    precompressed: bool = False,
) -> Response | HTTPError:
    """Fill *response* with the file at *path* and return it (a page returns it too).

    *content_type* defaults to the one of the file's extension. *disposition*
    (``"inline"`` or ``"attachment"``) sets ``Content-Disposition`` with *name*
    (default: the file's name). Returns a :class:`~relays_http.NotFound` when
    *path* is not a regular file, an :class:`~relays_http.HTTPError` for a failed
    precondition (412) or an unsatisfiable range (416): return it as it is.
    Pre-compressed siblings (``.br``, ``.gz``) are only looked for when
    *precompressed* is true.
    """
    options = _DEFAULT_OPTIONS
    if limits is not None or not precompressed:
        options = FileOptions(
            limits=limits if limits is not None else options.limits,
            precompressed=options.precompressed if precompressed else (),
            media_types=options.media_types,
        )
    filename = os.fspath(path)
    if disposition is not None:
        response.headers["content-disposition"] = content_disposition(
            disposition, name if name is not None else os.path.basename(filename)
        )
    answer = answer_with_file(
        request,
        response,
        filename,
        options,
        content_type=content_type,
        cache_control=cache_control,
    )
    if answer is None:
        return NotFound("no such file")
    return answer


def serve_download(
    request: Request,
    response: Response,
    path: str | os.PathLike[str],
    name: str | None = None,
    content_type: str = "application/octet-stream",
    *,
    cache_control: str | None = None,
    limits: StaticLimits | None = None,
) -> Response | HTTPError:
    """:func:`serve_file` as an attachment: the browser saves it as *name*."""
    return serve_file(
        request,
        response,
        path,
        content_type,
        disposition="attachment",
        name=name,
        cache_control=cache_control,
        limits=limits,
    )
