"""Media types from file extensions, the same on every machine.

:mod:`mimetypes` reads ``/etc/mime.types`` and the Windows registry when it is
initialised, so the type a server sends would depend on the host. We use its
built-in table only (a private :class:`mimetypes.MimeTypes`) plus the types the
web needs that it lacks or gets wrong (``.js`` is ``text/javascript`` by RFC 9239,
fonts, modern images, WebAssembly). Text types get a ``charset`` parameter.
"""

from __future__ import annotations

import mimetypes
import posixpath
from collections.abc import Mapping

__all__ = ["DEFAULT_TYPE", "MediaTypes"]

#: The type of a file whose extension is unknown.
DEFAULT_TYPE = "application/octet-stream"

_WEB_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".htm": "text/html",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".wasm": "application/wasm",
    ".svg": "image/svg+xml",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/vnd.microsoft.icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".md": "text/markdown",
    ".txt": "text/plain",
    ".xml": "application/xml",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".pdf": "application/pdf",
}

# Types that are text although not text/*: they get the charset too.
_TEXT_APPLICATIONS = frozenset(
    {
        "application/json",
        "application/manifest+json",
        "application/xml",
        "application/javascript",
        "image/svg+xml",
    }
)


class MediaTypes:
    """Extension to ``Content-Type``; *extra* maps ``".ext"`` to a type and wins."""

    def __init__(self, extra: Mapping[str, str] | None = None, *, charset: str = "utf-8") -> None:
        table = mimetypes.MimeTypes(filenames=())
        self._types: dict[str, str] = dict(table.types_map[True])
        self._types.update(_WEB_TYPES)
        for extension, media_type in (extra or {}).items():
            self._types[extension.lower() if extension.startswith(".") else f".{extension}"] = (
                media_type
            )
        self._charset = charset
        self._cache: dict[str, str] = {}

    def content_type(self, name: str) -> str:
        """The ``Content-Type`` value for a file called *name*."""
        extension = posixpath.splitext(name)[1].lower()
        cached = self._cache.get(extension)
        if cached is not None:
            return cached
        media_type = self._types.get(extension, DEFAULT_TYPE)
        if self._charset and (media_type.startswith("text/") or media_type in _TEXT_APPLICATIONS):
            media_type = f"{media_type}; charset={self._charset}"
        if len(self._cache) < 1024:
            self._cache[extension] = media_type
        return media_type
