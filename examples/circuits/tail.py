"""``tail -f`` in relays: print a file, then what is appended to it, as it happens.

A :class:`~relays_io.File` reads the file and stays open at its end
(``autoclose=False``); a :class:`~relays_io.Notify` watches it, and each
``modified`` event sends the File a ``resume()`` to read what was added. Try::

    python examples/circuits/tail.py /var/log/syslog
"""

from __future__ import annotations

import sys
from typing import TextIO

from relays import Component, handler
from relays_io import File, Notify, Resume


class Tail(Component):
    def __init__(self, path: str, output: TextIO | None = None) -> None:
        super().__init__()
        self.output = output
        self.file = File(path, autoclose=False, channel="tail").register(self)
        self.notify = Notify([path], channel="changes").register(self)

    @handler("read", channel="tail")
    def show(self, text: str) -> None:
        output = self.output or sys.stdout
        output.write(text)
        output.flush()

    @handler("modified", channel="changes")
    def more(self, path: str) -> None:
        self.fire(Resume(), "tail")

    @handler("error", channel="tail")
    def fail(self, error: OSError) -> None:
        print(f"tail: {error}", file=sys.stderr)
        self.stop()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: tail.py FILE")
    Tail(sys.argv[1]).run()
