"""A streamed body that sends part of a file with FileRegion, served on a free port of
127.0.0.1 (plain TCP, so the kernel's sendfile does the copying) and asked with urllib."""

import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from relays_http import Controller, FileRegion, Server
from relays_http.testing import serve_in_thread


def report_body(path: Path, size: int) -> Iterator[bytes | FileRegion]:
    with open(path, "rb") as file:  # closed once the region is sent
        yield b"report follows\n"
        yield FileRegion(file, 0, size)


class Root(Controller):
    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def report(self) -> Iterator[bytes | FileRegion]:
        size = self.path.stat().st_size
        self.response.headers["Content-Length"] = str(len(b"report follows\n") + size)
        return report_body(self.path, size)


with tempfile.TemporaryDirectory() as directory:
    path = Path(directory) / "report.txt"
    path.write_bytes(b"all is well\n" * 3)
    with (
        serve_in_thread(Server("tcp://127.0.0.1:0") + Root(path)) as server,
        urllib.request.urlopen(f"{server.url}report", timeout=10) as answer,
    ):
        print(answer.status, answer.headers["Content-Length"])
        print(answer.read().decode(), end="")
