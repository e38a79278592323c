"""relays-io: circuits.io for relays.

:class:`File` reads and writes files without blocking the loop (:class:`StdIn`,
:class:`StdOut` and :class:`StdErr` are files too), :class:`Process` runs child
programs, :class:`Notify` reports file-system changes, :func:`Pipe` connects two
components through a socket pair, and :class:`Line` cuts any stream into ``line``
events (``relays.find_protocol("line")``). ``Read``, ``Write``, ``Close``,
``Error`` and ``Disconnected`` are :mod:`relays.transports`' events, named here too
because files, processes and pipes use them. See ``docs/howto/io.rst``.
"""

from relays.transports import Close, Disconnected, Error, Read, Write

from ._changes import Change, ChangeBatch, InotifyDataError, InotifyDecoder
from ._files import (
    DEFAULT_READ_SIZE,
    Closed,
    Eof,
    File,
    Open,
    Opened,
    Resume,
    Seek,
    StdErr,
    StdIn,
    StdOut,
)
from ._lines import DEFAULT_MAX_LINE_LENGTH, Line, LineBuffer, LineEvent, LineTooLong
from ._notify import (
    DEFAULT_DEBOUNCE,
    Attributes,
    Created,
    Deleted,
    Modified,
    Moved,
    Notify,
    NotifyUnavailable,
    Watching,
)
from ._pipes import Pipe, PipeEnd
from ._process import (
    DEFAULT_STOP_TIMEOUT,
    Kill,
    Process,
    ProcessError,
    SendSignal,
    Spawn,
    Terminate,
    Terminated,
)

__all__ = [
    "DEFAULT_DEBOUNCE",
    "DEFAULT_MAX_LINE_LENGTH",
    "DEFAULT_READ_SIZE",
    "DEFAULT_STOP_TIMEOUT",
    "Attributes",
    "Change",
    "ChangeBatch",
    "Close",
    "Closed",
    "Created",
    "Deleted",
    "Disconnected",
    "Eof",
    "Error",
    "File",
    "InotifyDataError",
    "InotifyDecoder",
    "Kill",
    "Line",
    "LineBuffer",
    "LineEvent",
    "LineTooLong",
    "Modified",
    "Moved",
    "Notify",
    "NotifyUnavailable",
    "Open",
    "Opened",
    "Pipe",
    "PipeEnd",
    "Process",
    "ProcessError",
    "Read",
    "Resume",
    "Seek",
    "SendSignal",
    "Spawn",
    "StdErr",
    "StdIn",
    "StdOut",
    "Terminate",
    "Terminated",
    "Watching",
    "Write",
]
