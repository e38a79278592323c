"""Dropping root: bind privileged ports as root, then serve as an ordinary user.

Theory of operation: the user and group are looked up when :class:`DropPrivileges`
is made, so a misspelt name fails at once, before anything binds. The switch itself
happens on the first ``ready`` event (a server is listening): supplementary groups
are cleared first, then the group, then the user (in that order: once the user is
not root, the group can no longer be changed). Afterwards it checks that root cannot
be regained. A failed switch stops the application rather than leave it serving as
root.
"""

from __future__ import annotations

import grp
import os
import pwd
from typing import Any

import attrs

from relays import BaseComponent, Event, handler

__all__ = [
    "DropPrivileges",
    "Identity",
    "PrivilegeError",
    "PrivilegesDropped",
    "UnknownGroup",
    "UnknownUser",
    "drop_privileges",
    "resolve_identity",
]


class PrivilegeError(PermissionError):
    """Switching user or group failed; the message says why and what to do."""


class UnknownUser(LookupError):
    """No user of that name (or id) exists on this system."""


class UnknownGroup(LookupError):
    """No group of that name (or id) exists on this system."""


class PrivilegesDropped(Event):
    """``privileges_dropped(uid, gid)``: the process now runs as *uid*:*gid*."""


@attrs.frozen
class Identity:
    """Who to become: user and group ids, and the user's name for messages."""

    user: str
    uid: int
    gid: int


def resolve_identity(user: str | int, group: str | int | None = None) -> Identity:
    """Look *user* and *group* up (names or ids); the group defaults to the user's own.

    Raises :class:`UnknownUser` or :class:`UnknownGroup` naming what was not found.
    """
    try:
        entry = pwd.getpwuid(user) if isinstance(user, int) else pwd.getpwnam(user)
    except KeyError:
        raise UnknownUser(
            f"no user {user!r} on this system: create it or name an existing one"
        ) from None
    if group is None:
        gid = entry.pw_gid
    else:
        try:
            gid = (grp.getgrgid(group) if isinstance(group, int) else grp.getgrnam(group)).gr_gid
        except KeyError:
            raise UnknownGroup(
                f"no group {group!r} on this system: create it or name an existing one"
            ) from None
    return Identity(entry.pw_name, entry.pw_uid, gid)


def drop_privileges(identity: Identity, *, umask: int | None = None) -> None:
    """Become *identity* for good. Raises :class:`PrivilegeError` if that is not possible."""
    if os.getuid() == identity.uid and os.getgid() == identity.gid:
        return  # already that user (a test, or a service manager did it)
    if os.geteuid() != 0:
        raise PrivilegeError(
            f"only root can switch to user {identity.user!r}; this process runs as uid"
            f" {os.geteuid()}: start it as root, or leave the user option out"
        )
    try:
        os.setgroups([])
        os.setgid(identity.gid)
        os.setuid(identity.uid)
    except OSError as error:
        raise PrivilegeError(f"could not switch to user {identity.user!r}: {error}") from None
    if identity.uid != 0:
        try:
            os.setuid(0)
        except PermissionError:
            pass  # as it must be
        else:
            raise PrivilegeError(f"switched to {identity.user!r} but root could be regained")
    if umask is not None:
        os.umask(umask)


class DropPrivileges(BaseComponent):
    """Switches to *user* (and *group*) once a server of the tree is listening.

    Raises :class:`UnknownUser`/:class:`UnknownGroup` here, at once, for names that do
    not exist. Fires ``privileges_dropped(uid, gid)``; if the switch fails, the error
    is reported and the tree stops.
    """

    channel = "privileges"

    def __init__(
        self,
        user: str | int = "nobody",
        group: str | int | None = None,
        *,
        umask: int | None = None,
        channel: Any = "privileges",
    ) -> None:
        super().__init__(channel=channel)
        self.identity = resolve_identity(user, group)
        self.umask = umask
        self.dropped = False

    @handler("ready", channel="*")
    def _on_ready(self, *args: Any) -> None:
        if self.dropped:
            return
        try:
            drop_privileges(self.identity, umask=self.umask)
        except PrivilegeError:
            self.root.stop()
            raise
        self.dropped = True
        self.fire(PrivilegesDropped(os.getuid(), os.getgid()))
