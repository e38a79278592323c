"""The HTML page listing a directory (off by default, like nginx's ``autoindex``).

Every name is HTML-escaped in the text and percent-encoded in the link, so a
file called ``<script>`` or ``a"b`` is shown, not run. Hidden files (a leading
``.``) are left out unless they are served. The listing stops at a limit and
says how many entries it left out, so a directory of a million files cannot
make one request build a page of hundreds of megabytes.
"""

from __future__ import annotations

import html
import os
from urllib.parse import quote

__all__ = ["render_listing"]


def render_listing(directory: str, url_path: str, *, hidden_files: bool, limit: int) -> bytes:
    """The listing page of *directory*, shown at *url_path* (which ends with ``/``)."""
    entries: list[tuple[bool, str, int]] = []
    left_out = 0
    with os.scandir(directory) as scanner:
        for entry in scanner:
            if entry.name.startswith(".") and not hidden_files:
                continue
            if len(entries) >= limit:
                left_out += 1
                continue
            try:
                is_directory = entry.is_dir()
                size = 0 if is_directory else entry.stat().st_size
            except OSError:
                continue
            entries.append((not is_directory, entry.name, size))
    entries.sort()
    title = html.escape(f"Index of {url_path}")
    lines = [
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>",
        f"<title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n<ul>\n",
    ]
    if url_path != "/":
        lines.append('<li><a href="../">../</a></li>\n')
    for is_file, name, size in entries:
        shown = name if is_file else f"{name}/"
        link = quote(name) + ("" if is_file else "/")
        detail = f" ({size} bytes)" if is_file else ""
        lines.append(f'<li><a href="{html.escape(link)}">{html.escape(shown)}</a>{detail}</li>\n')
    lines.append("</ul>\n")
    if left_out:
        lines.append(f"<p>{left_out} more entries are not shown.</p>\n")
    lines.append("</body></html>\n")
    return "".join(lines).encode("utf-8")
