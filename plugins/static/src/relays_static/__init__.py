"""relays-static: files from a directory, as well served as by a real web server.

``Server(...) + Static("/static", docroot="./public")`` serves ``./public`` under
``/static/`` with safe path resolution, ``ETag``/``Last-Modified`` and conditional
requests, byte ranges, pre-compressed ``.br``/``.gz`` variants, ``Cache-Control``
per path pattern and streaming of large files. :func:`serve_file` and
:func:`serve_download` answer a controller's page with a file. See
``docs/howto/static-files.rst``.
"""

from ._files import FileChanged
from ._helpers import serve_download, serve_file
from ._limits import StaticLimits
from ._mime import MediaTypes
from ._static import Static

__all__ = [
    "FileChanged",
    "MediaTypes",
    "Static",
    "StaticLimits",
    "serve_download",
    "serve_file",
]
