"""A file name for an upload, made safe from what the client claimed.

Theory of operation
-------------------
``UploadedFile.filename`` is whatever the client sent: ``../../etc/passwd``,
``C:\\Users\\me\\photo.jpg`` (old browsers send the whole path), ``CON``, a name with
control characters, or nothing. Joined to a directory as it is, it can write outside
that directory or, on Windows, open a device. :func:`safe_filename` keeps what a
person would call the file's name and drops the rest, in an order that matters:

1. Unicode is folded (NFKC) first, so that look-alike separators (a fullwidth
   solidus) become the real ones and are dropped in the next step.
2. Only the last part of a path is kept, split at ``/`` and ``\\`` alike.
3. Control characters, and the characters Windows refuses in a name
   (``<>:"/\\|?*``), become ``_``; runs of dots become one dot, and dots and
   spaces at either end go (a leading dot hides a file; Windows drops trailing
   ones, so ``a.txt.`` would become ``a.txt`` there).
4. A Windows device name (``CON``, ``NUL``, ``COM1``, ``LPT9``..., with any
   extension: ``con.txt`` is the console too) gets a ``_`` in front.
5. The name is cut to *max_length* bytes of UTF-8, keeping its extension when it
   can; an empty result is *default*.

The result has no path separator, no ``..``, is never empty and never a device
name: joined to a directory, it names a file in that directory. It does not make
the name unique: two uploads may well be called ``photo.jpg``.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["safe_filename"]

#: Windows' reserved device names (the part before the first dot, any case).
_DEVICES = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$"]
    + [f"{port}{n}" for port in ("COM", "LPT") for n in [*"123456789", "¹", "²", "³"]]
)
# Control characters (C0, DEL, C1) and what Windows refuses in a file name.
_UNSAFE = re.compile(r'[\x00-\x1f\x7f-\x9f<>:"/\\|?*]')
_DOTS = re.compile(r"\.{2,}")
#: Longest extension (in bytes) kept when a name is cut.
MAX_EXTENSION = 16
#: Smallest *max_length*: room for a stem beside the longest extension kept.
MIN_LENGTH = 2 * MAX_EXTENSION


def safe_filename(name: str | None, *, default: str = "upload", max_length: int = 255) -> str:
    """A file name made from a client's *name* that is safe to join to a directory.

    Keeps the last part of a path, replaces control characters and those Windows
    refuses with ``_``, drops dots and spaces at either end, guards Windows device
    names (``CON`` becomes ``_CON``) and cuts the name to *max_length* bytes of UTF-8,
    keeping the extension; *default* when nothing is left::

        safe_filename("../../etc/passwd") == "passwd"
        safe_filename("C:\\\\Users\\\\me\\\\photo.jpg") == "photo.jpg"

    The result never holds a path separator or ``..``, is never empty and never a
    device name. It is not unique: do not let it overwrite another upload.
    """
    if max_length < MIN_LENGTH:
        raise ValueError(f"max_length must be at least {MIN_LENGTH} bytes, not {max_length}")
    cleaned = _clean(name or "", max_length)
    if cleaned:
        return cleaned
    if _clean(default, max_length) != default:
        raise ValueError(f"the default file name {default!r} is not safe itself")
    return default


def _clean(name: str, max_length: int) -> str:
    name = unicodedata.normalize("NFKC", name)
    name = re.split(r"[/\\]", name)[-1]
    name = _UNSAFE.sub("_", name)
    name = _DOTS.sub(".", name).strip(". ")
    # Cut first, so the cut cannot leave a device name; a device gets its "_" in front of
    # a cut one byte shorter. (Always cutting a byte short made the result of a device name
    # cut to exactly max_length change when cleaned again: idempotence is pinned by a test.)
    shortened = _shorten(name, max_length)
    if _is_device(shortened):
        return "_" + _shorten(name, max_length - 1)
    return shortened


def _is_device(name: str) -> bool:
    return name.split(".", 1)[0].rstrip(" ").upper() in _DEVICES


def _shorten(name: str, max_length: int) -> str:
    """*name* in at most *max_length* bytes of UTF-8, keeping a short extension."""
    if len(name.encode("utf-8")) <= max_length:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or len(extension.encode("utf-8")) > MAX_EXTENSION or not stem:
        stem, extension = name, ""
    room = max_length - len(extension.encode("utf-8")) - (1 if extension else 0)
    stem = stem.encode("utf-8")[:room].decode("utf-8", "ignore").rstrip(". ")
    if not stem:
        return ""
    return f"{stem}.{extension}" if extension else stem
