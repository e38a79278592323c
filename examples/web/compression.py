"""Compressed pages: the Compression component next to the controllers.

Every page whose type is worth compressing (HTML, JSON, text...) and whose body is at
least 256 bytes goes out gzip-, deflate-, brotli- or zstd-encoded, whichever the
client's ``Accept-Encoding`` weighs highest among those installed; a streamed page is
compressed chunk by chunk, as it streams. An address on the command line
(``tcp://127.0.0.1:8080``) changes where it listens.
"""

import sys
from collections.abc import Iterator

from relays_http import Compression, Controller, Server


class Root(Controller):
    def index(self) -> str:
        return "<h1>A long page</h1>" + "<p>Words worth compressing.</p>" * 200

    def report(self) -> Iterator[str]:
        self.response.content_type = "text/plain; charset=utf-8"
        return (f"line {number}: all is well\n" for number in range(1000))

    def logo(self) -> bytes:
        self.response.content_type = "image/png"  # not in the compressible types
        return b"\x89PNG\r\n\x1a\n" + bytes(1024)


if __name__ == "__main__":
    bind = sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:8000"
    server = Server(bind) + Compression(minimum_size=256, exclude=["/downloads/"]) + Root()
    server.run()
