"""relays-app: circuits.app for relays.

:class:`Daemon` (or :func:`daemonize` before running) detaches the process into the
background with a pidfile; :class:`DropPrivileges` switches from root to an ordinary
user once the servers are listening. ``relays serve --daemon --pidfile FILE --user
USER --group GROUP`` does both from the command line. See ``docs/howto/app.rst``.
"""

from ._daemon import (
    DEFAULT_UMASK,
    AlreadyRunning,
    Daemon,
    DaemonError,
    Daemonized,
    daemonize,
    read_pidfile,
)
from ._privileges import (
    DropPrivileges,
    Identity,
    PrivilegeError,
    PrivilegesDropped,
    UnknownGroup,
    UnknownUser,
    drop_privileges,
    resolve_identity,
)

__all__ = [
    "DEFAULT_UMASK",
    "AlreadyRunning",
    "Daemon",
    "DaemonError",
    "Daemonized",
    "DropPrivileges",
    "Identity",
    "PrivilegeError",
    "PrivilegesDropped",
    "UnknownGroup",
    "UnknownUser",
    "daemonize",
    "drop_privileges",
    "read_pidfile",
    "resolve_identity",
]
