"""From a URL path to a file under the document root, refusing every way out.

Theory of operation
-------------------
The path is taken *raw* (still percent-encoded) and split on ``/`` before any
decoding, so an encoded slash (``%2F``) stays inside its segment, where it is
refused, instead of becoming a separator after the checks. Each segment is then
decoded on its own (strict UTF-8) and must be a plain file name: not ``..``, no
``/``, ``\\``, NUL or other control character, no drive letter (``C:``), and not
hidden (a leading ``.``) unless hidden files are allowed. ``.well-known`` is
always allowed (RFC 8615). Empty and ``.`` segments are dropped, as nginx merges
slashes.

The containment check does not trust that normalisation alone: every
component under the (real) document root is ``lstat``-ed, and as soon as one is
a symbolic link the whole path is resolved with :func:`os.path.realpath` (which
follows every link) and must still lie under the document root. A symlink that
points outside is a 403; with ``follow_symlinks=False`` any symlink on the way
is. Walking with ``lstat`` costs one system call per segment, where
``realpath`` on every request would cost one per component of the absolute path.

(Someone who can write into the document root can swap a directory for a link
between our check and the ``open``; that is true of any check done before
opening, and of nginx too. Serve directories only you can write to.)
"""

from __future__ import annotations

import os
import stat as stat_module
from urllib.parse import unquote

from relays_http import Forbidden

__all__ = ["PathRefused", "resolve_path", "split_url_path"]

_WELL_KNOWN = ".well-known"
# Characters no served file name may contain: separators, NUL and other controls.
_FORBIDDEN = frozenset("/\\\x00") | frozenset(chr(code) for code in (*range(32), 127))


class PathRefused(ValueError):
    """A URL path that does not name a file under the document root (a 404)."""


def split_url_path(raw_path: str, *, hidden_files: bool = False) -> list[str]:
    """Split a raw (percent-encoded) URL path into safe file-name segments.

    Raises :class:`PathRefused` naming the first segment that is not a plain file
    name. ``"/a/b%20c/"`` gives ``["a", "b c"]``.
    """
    segments = []
    for raw in raw_path.split("/"):
        if not raw:
            continue
        try:
            segment = unquote(raw, errors="strict") if "%" in raw else raw
        except UnicodeDecodeError:
            raise PathRefused(f"segment {raw!r} is not UTF-8") from None
        if segment == ".":
            continue
        if segment == "..":
            raise PathRefused("'..' is not allowed in a path")
        if not _FORBIDDEN.isdisjoint(segment):
            raise PathRefused(f"segment {raw!r} holds a separator or control character")
        if len(segment) >= 2 and segment[1] == ":" and segment[0].isalpha():
            raise PathRefused(f"segment {raw!r} looks like a drive letter")
        if segment[0] == "." and not hidden_files and segment != _WELL_KNOWN:
            raise PathRefused(f"segment {raw!r} names a hidden file")
        segments.append(segment)
    return segments


def resolve_path(
    root: str, segments: list[str], *, follow_symlinks: bool = True
) -> tuple[str, os.stat_result | None]:
    """``(path, its stat)`` of *segments* under the real directory *root*.

    The stat is None when nothing is there. *root* must already be a real path
    (:func:`os.path.realpath`). Each component is ``lstat``-ed on the way down, the
    cheap common case; the first symbolic link met sends the whole path through
    :func:`os.path.realpath` instead. Raises :class:`~relays_http.Forbidden` when
    the real path leaves *root*, or at any link when *follow_symlinks* is off.
    """
    path = root
    try:
        if not segments:
            return root, os.stat(root)
        file_stat = None
        for segment in segments:
            path = f"{path}{os.sep}{segment}"
            file_stat = os.lstat(path)
            if stat_module.S_ISLNK(file_stat.st_mode):
                break
        else:
            return path, file_stat
    except (OSError, ValueError):
        return path, None
    if not follow_symlinks:
        raise Forbidden("symbolic links are not followed here")
    real = os.path.realpath(os.path.join(root, *segments))
    inside = root + os.sep if root != os.sep else root
    if real != root and not real.startswith(inside):
        raise Forbidden("this path leads outside the served directory")
    try:
        return real, os.stat(real)
    except (OSError, ValueError):
        return real, None
