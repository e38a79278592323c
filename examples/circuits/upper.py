"""A filter on standard input and output: every line read comes out in capitals.

:class:`~relays_io.StdIn` reads standard input when the loop says it is ready (a pipe or a
terminal) or in a thread (a file redirected in), a :class:`~relays_io.Line` on its channel
cuts the bytes into lines, and :class:`~relays_io.StdOut` writes the answers. At the end of
the input the program stops. Try::

    printf 'hello\\nworld\\n' | python examples/circuits/upper.py
"""

from __future__ import annotations

from relays import Component, handler
from relays_io import Line, StdIn, StdOut, Write


class Upper(Component):
    def __init__(self) -> None:
        super().__init__()
        StdIn(binary=True).register(self)
        StdOut(binary=True).register(self)
        Line(channel="stdin").register(self)

    @handler("line", channel="stdin")
    def shout(self, line: bytes) -> None:
        self.fire(Write(line.upper() + b"\n"), "stdout")

    @handler("eof", channel="stdin")
    async def finish(self) -> None:
        # Write nothing more, and stop once what was written is out.
        await self.call(Write(b""), "stdout")
        self.stop()


if __name__ == "__main__":
    Upper().run()
