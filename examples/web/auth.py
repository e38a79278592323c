"""Pages behind a password: Basic authentication from an htpasswd file, Digest from a table.

``/admin/`` asks for Basic credentials checked against ``users.htpasswd`` (next to this
file: make it with Apache's ``htpasswd -B`` or libpass), ``/reports/`` for Digest (SHA-256,
and MD5 for old clients); the rest of the site is open. An address on the command line
(``tcp://127.0.0.1:8080``) changes where it listens.
"""

import sys
from pathlib import Path

from relays_http import (
    BasicAuth,
    Controller,
    DigestAuth,
    Htpasswd,
    Server,
    authenticated_user,
)

HERE = Path(__file__).parent


class Root(Controller):
    def index(self) -> str:
        return "Open to everyone."

    def admin(self) -> str:
        return f"Hello {authenticated_user(self.request)}, welcome to the admin pages."

    def reports(self) -> str:
        return f"Reports for {authenticated_user(self.request)}."


if __name__ == "__main__":
    bind = sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:8000"
    basic = BasicAuth("admin", Htpasswd(HERE / "users.htpasswd"), paths=["/admin"])
    digest = DigestAuth("reports", {"ann": "s3cret"}, paths=["/reports"])
    (Server(bind) + basic + digest + Root()).run()
