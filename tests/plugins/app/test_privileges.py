"""DropPrivileges: names checked at once, the switch after binding, root required."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys

import pytest

from relays_app import (
    DropPrivileges,
    PrivilegeError,
    UnknownGroup,
    UnknownUser,
    drop_privileges,
    resolve_identity,
)

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root (CI is)")


def test_an_unknown_user_is_refused_when_the_component_is_made() -> None:
    with pytest.raises(UnknownUser, match="no user 'no-such-user-here'"):
        DropPrivileges("no-such-user-here")


def test_an_unknown_group_is_refused_when_the_component_is_made() -> None:
    with pytest.raises(UnknownGroup, match="no group 'no-such-group-here'"):
        DropPrivileges("nobody", "no-such-group-here")


def test_the_group_defaults_to_the_users_own() -> None:
    entry = pwd.getpwnam("nobody")
    identity = resolve_identity("nobody")
    assert (identity.uid, identity.gid) == (entry.pw_uid, entry.pw_gid)
    assert resolve_identity(entry.pw_uid).user == "nobody"


def test_becoming_who_we_are_is_nothing_to_do() -> None:
    drop_privileges(resolve_identity(os.getuid(), os.getgid()))
    assert os.getuid() == pwd.getpwuid(os.getuid()).pw_uid


@pytest.mark.skipif(os.geteuid() == 0, reason="as root the switch would succeed")
def test_without_root_switching_is_a_clear_error() -> None:
    with pytest.raises(PrivilegeError, match="only root can switch"):
        drop_privileges(resolve_identity("nobody"))


@ROOT_ONLY
def test_as_root_the_switch_is_for_good() -> None:
    # In a child process: this one must stay root.
    script = (
        "import os; from relays_app import drop_privileges, resolve_identity;"
        " drop_privileges(resolve_identity('nobody'), umask=0o077);"
        " print(os.getuid(), os.geteuid(), os.getgroups(), oct(os.umask(0)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    nobody = pwd.getpwnam("nobody").pw_uid
    assert result.stdout.split() == [str(nobody), str(nobody), "[]", "0o77"]
