"""``Notify(paths)``: file-system changes as events, from Linux's inotify.

Theory of operation: one inotify descriptor per :class:`Notify`, opened when the tree
starts, watched by the loop (inotify has readiness, so no thread). Each watched
directory has a watch descriptor; with ``recursive`` every directory below a watched
one is watched too, including directories created later. Records are decoded by
:class:`~relays_io._changes.InotifyDecoder`, turned into :class:`Change` values with
full paths, and collected for ``debounce`` seconds in a
:class:`~relays_io._changes.ChangeBatch`; then each distinct change is fired once.
A move inside the watched trees is one ``moved(path, destination)``; a move in from
outside is ``created``, out of them ``deleted``.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import errno
import os
import sys
from collections.abc import Iterable
from typing import Any

from relays import BaseComponent, Event, handler
from relays.transports import Error

from ._changes import Change, ChangeBatch, InotifyDataError, InotifyDecoder, RawChange

__all__ = [
    "DEFAULT_DEBOUNCE",
    "Attributes",
    "Created",
    "Deleted",
    "Modified",
    "Moved",
    "Notify",
    "NotifyUnavailable",
    "Watching",
]

#: Seconds changes are collected before they are reported, each distinct one once.
DEFAULT_DEBOUNCE = 0.05

_IN_MODIFY = 0x2
_IN_ATTRIB = 0x4
_IN_CLOSE_WRITE = 0x8
_IN_MOVED_FROM = 0x40
_IN_MOVED_TO = 0x80
_IN_CREATE = 0x100
_IN_DELETE = 0x200
_IN_DELETE_SELF = 0x400
_IN_Q_OVERFLOW = 0x4000
_IN_IGNORED = 0x8000
_IN_ISDIR = 0x40000000
_IN_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = os.O_CLOEXEC
_WATCH_MASK = (
    _IN_MODIFY
    | _IN_ATTRIB
    | _IN_CLOSE_WRITE
    | _IN_MOVED_FROM
    | _IN_MOVED_TO
    | _IN_CREATE
    | _IN_DELETE
    | _IN_DELETE_SELF
)


class NotifyUnavailable(OSError):
    """This system has no inotify (relays-io's Notify needs Linux)."""


class Created(Event):
    """``created(path)``: a file or directory appeared (or was moved in)."""


class Modified(Event):
    """``modified(path)``: a file's content changed (once per debounce window)."""


class Deleted(Event):
    """``deleted(path)``: a file or directory went away (or was moved out)."""


class Moved(Event):
    """``moved(path, destination)``: renamed within the watched trees."""


class Attributes(Event):
    """``attributes(path)``: permissions, owner or times changed."""


class Watching(Event):
    """``watching(paths)``: the watches are in place; changes from now on are reported."""


_EVENTS: dict[str, type[Event]] = {
    "created": Created,
    "modified": Modified,
    "deleted": Deleted,
    "moved": Moved,
    "attributes": Attributes,
}


def _libc() -> Any:
    if not sys.platform.startswith("linux"):
        raise NotifyUnavailable(f"Notify needs Linux's inotify; {sys.platform} has none")
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


class Notify(BaseComponent):
    """Watches *paths* (files or directories) and fires their changes on its channel.

    Fires ``watching(paths)`` once the watches are set, then ``created``,
    ``modified``, ``deleted``, ``moved`` and ``attributes`` events with full paths.
    Handles ``add_path(path, recursive=None)`` and ``remove_path(path)``. A path that
    does not exist fires ``error(FileNotFoundError)`` naming it.
    """

    channel = "notify"

    def __init__(
        self,
        paths: Iterable[str | os.PathLike[str]] = (),
        *,
        recursive: bool = True,
        debounce: float = DEFAULT_DEBOUNCE,
        channel: Any = "notify",
    ) -> None:
        super().__init__(channel=channel)
        if debounce < 0:
            raise ValueError(f"debounce must be 0 or more seconds, not {debounce}")
        self.paths = [os.fspath(path) for path in paths]
        self.recursive = recursive
        self.debounce = debounce
        self._libc: Any = None
        self._descriptor: int | None = None
        self._decoder = InotifyDecoder()
        self._batch = ChangeBatch()
        self._watches: dict[int, str] = {}  # watch descriptor -> watched path
        self._moves: dict[int, str] = {}  # cookie -> path moved away, until its pair
        self._flush: asyncio.TimerHandle | None = None
        self._began = False

    @property
    def watched(self) -> list[str]:
        """Every path watched now (directories below a recursive path included)."""
        return sorted(self._watches.values())

    # -- life cycle ------------------------------------------------------------------

    @handler("started", channel="*")
    def _on_started(self, component: BaseComponent) -> None:
        if component is self.root:
            self._begin()

    @handler("registered", channel="*")
    def _on_registered(self, component: BaseComponent, parent: BaseComponent) -> None:
        if component is self and self.running:
            self._begin()

    @handler("stopped", channel="*")
    def _on_stopped(self, component: BaseComponent) -> None:
        if component is self.root:
            self._end()

    @handler("unregistered", channel="*")
    def _on_unregistered(self, component: BaseComponent, parent: BaseComponent) -> None:
        if component is self:
            self._end()

    def _begin(self) -> None:
        if self._began:
            return
        self._began = True
        try:
            self._libc = _libc()
        except (NotifyUnavailable, OSError) as error:
            self.fire(Error(error))
            return
        descriptor = self._libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        if descriptor < 0:
            code = ctypes.get_errno()
            self.fire(Error(OSError(code, f"inotify_init1 failed: {os.strerror(code)}")))
            return
        self._descriptor = descriptor
        asyncio.get_running_loop().add_reader(descriptor, self._readable)
        for path in self.paths:
            self._watch(path, self.recursive)
        self.fire(Watching(list(self.paths)))

    def _end(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        descriptor, self._descriptor = self._descriptor, None
        if descriptor is not None:
            asyncio.get_running_loop().remove_reader(descriptor)
            os.close(descriptor)
        self._watches.clear()

    # -- handlers --------------------------------------------------------------------

    @handler("add_path")
    def add_path(self, path: str | os.PathLike[str], recursive: bool | None = None) -> None:
        """Watch *path* too (recursively unless told otherwise)."""
        path = os.fspath(path)
        if path not in self.paths:
            self.paths.append(path)
        if self._descriptor is not None:
            self._watch(path, self.recursive if recursive is None else recursive)

    @handler("remove_path")
    def remove_path(self, path: str | os.PathLike[str]) -> None:
        """Stop watching *path* and everything watched below it."""
        path = os.fspath(path)
        if path in self.paths:
            self.paths.remove(path)
        below = path.rstrip(os.sep) + os.sep
        for watch, watched in list(self._watches.items()):
            if watched == path or watched.startswith(below):
                del self._watches[watch]
                if self._descriptor is not None:
                    self._libc.inotify_rm_watch(self._descriptor, watch)

    # -- watching --------------------------------------------------------------------

    def _watch(self, path: str, recursive: bool) -> None:
        if not os.path.exists(path):
            self.fire(Error(FileNotFoundError(errno.ENOENT, "no such path to watch", path)))
            return
        self._add_watch(path)
        if recursive and os.path.isdir(path):
            for directory, subdirectories, _files in os.walk(path):
                for name in subdirectories:
                    self._add_watch(os.path.join(directory, name))

    def _add_watch(self, path: str) -> None:
        assert self._descriptor is not None
        watch = self._libc.inotify_add_watch(self._descriptor, os.fsencode(path), _WATCH_MASK)
        if watch < 0:
            code = ctypes.get_errno()
            self.fire(Error(OSError(code, f"cannot watch: {os.strerror(code)}", path)))
            return
        self._watches[watch] = path

    def _readable(self) -> None:
        assert self._descriptor is not None
        try:
            data = os.read(self._descriptor, 64 * 1024)
        except BlockingIOError:
            return
        try:
            records = self._decoder.feed(data)
        except InotifyDataError as error:  # the kernel's records: cannot happen, but say so
            self.fire(Error(error))
            return
        for record in records:
            change = self._change(record)
            if change is not None and self._batch.add(change):
                loop = asyncio.get_running_loop()
                self._flush = loop.call_later(self.debounce, self._report)
        # A move whose other half is not in this read left the watched trees.
        for path in self._moves.values():
            if self._batch.add(Change("deleted", path)):
                self._flush = asyncio.get_running_loop().call_later(self.debounce, self._report)
        self._moves.clear()

    def _change(self, record: RawChange) -> Change | None:
        mask = record.mask
        if mask & _IN_Q_OVERFLOW:
            self.fire(Error(OSError(errno.EOVERFLOW, "inotify queue overflowed: changes lost")))
            return None
        base = self._watches.get(record.watch)
        if base is None:
            return None
        if mask & _IN_IGNORED:
            del self._watches[record.watch]
            return None
        path = os.path.join(base, record.name) if record.name else base
        if mask & _IN_CREATE:
            if mask & _IN_ISDIR and self.recursive:
                self._watch(path, True)
            return Change("created", path)
        if mask & (_IN_MODIFY | _IN_CLOSE_WRITE):
            return Change("modified", path)
        if mask & _IN_ATTRIB:
            return Change("attributes", path)
        if mask & _IN_MOVED_FROM:
            self._moves[record.cookie] = path
            return None
        if mask & _IN_MOVED_TO:
            source = self._moves.pop(record.cookie, None)
            if mask & _IN_ISDIR and self.recursive:
                self._watch(path, True)
            if source is None:
                return Change("created", path)
            return Change("moved", source, path)
        if mask & (_IN_DELETE | _IN_DELETE_SELF):
            if mask & _IN_DELETE_SELF and record.name == "" and base not in self.paths:
                return None  # a watched subdirectory's own record; its parent reported it
            return Change("deleted", path)
        return None

    def _report(self) -> None:
        self._flush = None
        for change in self._batch.take():
            event = _EVENTS[change.kind]
            if change.kind == "moved":
                self.fire(event(change.path, change.destination))
            else:
                self.fire(event(change.path))
