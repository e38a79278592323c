"""Static files: a directory served by ``File``, which relays-static does the work for
(ETag, Last-Modified, conditional requests, byte ranges)."""

import pathlib

from relays_resources import File

root = File(pathlib.Path(__file__).parent / "public")
