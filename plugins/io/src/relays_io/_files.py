"""Files as components: ``read`` events out, ``write`` events in, never blocking the loop.

Theory of operation: the OS offers no readiness for regular files (epoll refuses
them; a read of a slow disk blocks), so a :class:`File` on a regular file does its
opening, reading, writing, seeking and closing in one worker thread of its own. One
thread, not a pool, keeps the operations in the order they were asked for. Pipes,
terminals and sockets (standard input, mostly) do have readiness, so the loop watches
them and they are read without a thread; writes to them go through the thread, where
a full pipe may block without stopping the loop.

Reading is paced by the handlers: the next chunk is read only when every handler of
the previous ``read`` event has finished, so a slow consumer holds back the file
rather than filling memory. At the end of the file, ``eof()`` is fired; then the file
is closed (``autoclose=True``) or waits, open, for a ``resume()`` event that says more
was written (what a tailer sends when :class:`~relays_io.Notify` reports a change).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import io
import os
import select
import stat
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any, TypeVar

from relays import BaseComponent, Event, handler
from relays.transports import Error, Read

__all__ = [
    "DEFAULT_READ_SIZE",
    "Closed",
    "Eof",
    "File",
    "Open",
    "Opened",
    "Resume",
    "Seek",
    "StdErr",
    "StdIn",
    "StdOut",
]

#: Bytes a :class:`File` reads at a time unless given ``bufsize=``.
DEFAULT_READ_SIZE = 64 * 1024

T = TypeVar("T")


class Open(Event):
    """``open(path=None, mode=None)``: (re)open the File, with another path or mode."""


class Seek(Event):
    """``seek(offset, whence=0)``: move the File's position (:func:`os.lseek`'s *whence*)."""


class Resume(Event):
    """``resume()``: the file grew; a File that stopped at ``eof`` reads on."""


class Opened(Event):
    """``opened(path, mode)``: the file is open; reading starts if the mode reads."""


class Eof(Event):
    """``eof()``: everything in the file has been read (and handled)."""


class Closed(Event):
    """``closed()``: the file is closed; a new ``open(path, mode)`` may reopen it."""


def _reads(mode: str) -> bool:
    return "r" in mode or "+" in mode


def _writes(mode: str) -> bool:
    return any(flag in mode for flag in "wax+")


class File(BaseComponent):
    """A file opened by path (or an open file or descriptor, not closed by us).

    *mode* is :func:`open`'s: without ``"b"`` data is text, decoded and encoded with
    *encoding* (UTF-8 by default). The file opens when the tree starts (or when the
    File joins a running tree); a missing file or a refused open fires
    ``error(OSError)`` naming the path. Fires ``opened``, ``read(data)``, ``eof``,
    ``closed`` and ``error`` on its channel; handles ``write(data)``, ``seek(offset,
    whence=0)``, ``resume()``, ``close()`` and ``open(path=None, mode=None)``.
    """

    channel = "file"

    def __init__(
        self,
        path: str | os.PathLike[str] | IO[Any] | int,
        mode: str = "r",
        *,
        channel: Any = "file",
        encoding: str = "utf-8",
        bufsize: int = DEFAULT_READ_SIZE,
        autoclose: bool = True,
    ) -> None:
        super().__init__(channel=channel)
        if bufsize < 1:
            raise ValueError(f"bufsize must be 1 or more bytes, not {bufsize}")
        self.path = path
        self.mode = mode
        self.encoding = encoding
        self.bufsize = bufsize
        self.autoclose = autoclose
        self._file: IO[bytes] | None = None
        self._owns_file = False
        self._executor: ThreadPoolExecutor | None = None
        self._reader: asyncio.Task[None] | None = None
        self._more = asyncio.Event()
        self._decoder: codecs.IncrementalDecoder | None = None
        self._began = False
        # Set while no open is under way, so a write that arrives meanwhile waits for it.
        self._settled = asyncio.Event()
        self._settled.set()

    def __repr__(self) -> str:
        state = "open" if self._file is not None else "closed"
        return f"<{type(self).__name__} {self.name_of_file()!r} mode={self.mode!r} {state}>"

    def name_of_file(self) -> str:
        """The path, or what stands for it when the File was given an open file."""
        if isinstance(self.path, (str, os.PathLike)):
            return os.fspath(self.path)
        if isinstance(self.path, int):
            return f"<fd {self.path}>"
        return str(getattr(self.path, "name", repr(self.path)))

    @property
    def is_open(self) -> bool:
        return self._file is not None

    # -- life cycle ------------------------------------------------------------------

    @handler("started", channel="*")
    async def _on_started(self, component: BaseComponent) -> None:
        if component is self.root and not self._began:
            self._began = True
            await self.open()

    @handler("registered", channel="*")
    async def _on_registered(self, component: BaseComponent, parent: BaseComponent) -> None:
        if component is self and self.running and not self._began:
            self._began = True
            await self.open()

    @handler("stopped", channel="*")
    async def _on_stopped(self, component: BaseComponent) -> None:
        if component is self.root:
            await self.close()

    @handler("unregistered", channel="*")
    async def _on_unregistered(self, component: BaseComponent, parent: BaseComponent) -> None:
        if component is self:
            await self.close()

    # -- handlers --------------------------------------------------------------------

    @handler("open")
    async def open(self, path: Any = None, mode: str | None = None) -> None:
        """Open *path* (default: the File's) with *mode*; a File already open is closed first."""
        if self._file is not None:
            await self.close()
        if path is not None:
            self.path = path
        if mode is not None:
            self.mode = mode
        self._settled.clear()
        try:
            self._file, self._owns_file = await self._in_thread(self._open_now)
        except OSError as error:
            self.fire(Error(error))
            return
        finally:
            self._settled.set()
        self._decoder = (
            None if "b" in self.mode else codecs.getincrementaldecoder(self.encoding)("replace")
        )
        self.fire(Opened(self.name_of_file(), self.mode))
        if _reads(self.mode):
            self._more.clear()
            self._reader = asyncio.get_running_loop().create_task(self._read_all())

    def _open_now(self) -> tuple[IO[bytes], bool]:
        binary_mode = self.mode.replace("b", "").replace("t", "") + "b"
        if isinstance(self.path, (str, os.PathLike)):
            return open(Path(self.path), binary_mode, buffering=0), True
        if isinstance(self.path, int):
            return open(self.path, binary_mode, buffering=0, closefd=False), False
        stream = getattr(self.path, "buffer", self.path)
        return open(stream.fileno(), binary_mode, buffering=0, closefd=False), False

    @handler("write")
    async def write(self, data: str | bytes) -> None:
        """Write *data* (``str`` in text mode is encoded with the File's encoding)."""
        await self._settled.wait()
        file = self._file
        if file is None or not _writes(self.mode):
            why = "is not open" if file is None else f"was opened for reading ({self.mode!r})"
            self.fire(Error(io.UnsupportedOperation(f"{self.name_of_file()} {why}")))
            return
        payload = data.encode(self.encoding) if isinstance(data, str) else bytes(data)
        try:
            await self._in_thread(_write_all, file, payload)
        except OSError as error:
            self.fire(Error(error))

    @handler("seek")
    async def seek(self, offset: int, whence: int = os.SEEK_SET) -> int | None:
        """Move the read/write position; returns the new one."""
        file = self._file
        if file is None:
            return None
        try:
            return await self._in_thread(file.seek, offset, whence)
        except OSError as error:
            self.fire(Error(error))
            return None

    @handler("resume")
    def resume(self) -> None:
        """More was written to the file: read on from where ``eof`` stopped."""
        self._more.set()

    @handler("close")
    async def close(self) -> None:
        """Close the file (writes already asked for are done first); fires ``closed``."""
        file, self._file = self._file, None
        if file is None:
            return
        reader, self._reader = self._reader, None
        if reader is not None and reader is not asyncio.current_task():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        with contextlib.suppress(OSError):
            await self._in_thread(file.close if self._owns_file else file.flush)
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None
        self.fire(Closed())

    # -- reading ---------------------------------------------------------------------

    async def _read_all(self) -> None:
        file = self._file
        assert file is not None
        mode = os.fstat(file.fileno()).st_mode
        if stat.S_ISREG(mode) or stat.S_ISBLK(mode):
            await self._read_in_thread(file)
        else:
            await self._read_when_ready(file)

    async def _read_in_thread(self, file: IO[bytes]) -> None:
        while True:
            try:
                data = await self._in_thread(file.read, self.bufsize)
            except OSError as error:
                self.fire(Error(error))
                return
            if data:
                await self._deliver(data)
                continue
            await self._at_end()
            if self.autoclose:
                return
            await self._more.wait()
            self._more.clear()

    async def _read_when_ready(self, file: IO[bytes]) -> None:
        loop = asyncio.get_running_loop()
        descriptor = file.fileno()
        was_blocking = os.get_blocking(descriptor)
        os.set_blocking(descriptor, False)
        try:
            while True:
                readable = loop.create_future()
                loop.add_reader(descriptor, _settle, readable)
                try:
                    await readable
                finally:
                    loop.remove_reader(descriptor)
                try:
                    data = os.read(descriptor, self.bufsize)
                except BlockingIOError:
                    continue
                except OSError as error:
                    self.fire(Error(error))
                    return
                if not data:
                    await self._at_end()
                    return
                await self._deliver(data)
        finally:
            with contextlib.suppress(OSError):
                os.set_blocking(descriptor, was_blocking)

    async def _deliver(self, data: bytes) -> None:
        text: str | bytes = data
        if self._decoder is not None:
            text = self._decoder.decode(data)
            if not text:
                return
        # Waiting for the handlers paces the reading (see the module docstring).
        with contextlib.suppress(Exception):  # a failing handler was reported already
            await self.fire(Read(text))

    async def _at_end(self) -> None:
        if self._decoder is not None:
            rest = self._decoder.decode(b"", final=True)
            if rest:
                with contextlib.suppress(Exception):
                    await self.fire(Read(rest))
        with contextlib.suppress(Exception):
            await self.fire(Eof())
        if self.autoclose:
            await self.close()

    async def _in_thread(self, function: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                1, thread_name_prefix=f"relays-file-{self.channel}"
            )
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _write_all(file: IO[bytes], data: bytes) -> None:
    view = memoryview(data)
    while view:
        written: int | None = file.write(view)  # None: a full non-blocking pipe
        if written is None:  # wait until it drains; this is the File's own thread
            select.select([], [file], [])
            continue
        view = view[written:]


class StdIn(File):
    """Standard input as a :class:`File` on channel ``"stdin"`` (text unless ``binary``)."""

    def __init__(self, *, channel: Any = "stdin", binary: bool = False, **options: Any) -> None:
        super().__init__(sys.stdin, "rb" if binary else "r", channel=channel, **options)


class StdOut(File):
    """Standard output as a :class:`File` on channel ``"stdout"``: fire ``write(data)``."""

    def __init__(self, *, channel: Any = "stdout", binary: bool = False, **options: Any) -> None:
        super().__init__(sys.stdout, "wb" if binary else "w", channel=channel, **options)


class StdErr(File):
    """Standard error as a :class:`File` on channel ``"stderr"``: fire ``write(data)``."""

    def __init__(self, *, channel: Any = "stderr", binary: bool = False, **options: Any) -> None:
        super().__init__(sys.stderr, "wb" if binary else "w", channel=channel, **options)
