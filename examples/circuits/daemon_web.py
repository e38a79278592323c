"""A web service that detaches into the background and stops being root.

The circuits.app program everyone writes: bind the port as root, switch to an
ordinary user once the server listens, run as a daemon with a pidfile. Each page
says who serves it.

    python examples/circuits/daemon_web.py --bind tcp://127.0.0.1:8080 \\
        --pidfile /run/whoami/whoami.pid --user nobody

Stop it with ``kill $(cat /run/whoami/whoami.pid)``. The pidfile's directory must
be writable by the user you switch to, or the pidfile cannot be removed on exit.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from relays import BaseComponent
from relays_app import Daemon, DropPrivileges
from relays_http import Controller, Server


class WhoAmI(Controller):
    def index(self) -> str:
        return f"pid={os.getpid()} uid={os.getuid()} gid={os.getgid()} cwd={os.getcwd()}\n"


def make_app(bind: str, pidfile: str | None, user: str | None, group: str | None) -> BaseComponent:
    app = Server(bind) + WhoAmI()
    # Daemon forks right here, while the tree is built and nothing runs yet: the
    # shell gets its prompt back, the rest happens in the background. DropPrivileges
    # acts on the server's "ready", once the port is bound as root.
    app += Daemon(pidfile=pidfile)
    if user is not None:
        app += DropPrivileges(user, group)
    return app


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bind", default="tcp://127.0.0.1:8080")
    parser.add_argument("--pidfile")
    parser.add_argument("--user")
    parser.add_argument("--group")
    options = parser.parse_args(argv)
    make_app(options.bind, options.pidfile, options.user, options.group).run()


if __name__ == "__main__":
    main()
