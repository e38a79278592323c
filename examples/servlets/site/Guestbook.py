"""A form with actions: ``_action_=sign`` calls ``sign`` before the page is written."""

import html
import threading

from relays_servlets import Page

_entries: list[str] = []
_lock = threading.Lock()


class Guestbook(Page):
    def actions(self) -> list[str]:
        return ["sign", "clear"]

    def sign(self) -> None:
        name = self.request().field("name") or "anonymous"
        with _lock:
            _entries.append(name)

    def clear(self) -> None:
        with _lock:
            _entries.clear()

    def writeContent(self) -> None:
        self.writeln("<h1>Guestbook</h1><ul id='entries'>")
        with _lock:
            for entry in _entries:
                self.writeln("<li>", html.escape(entry), "</li>")
        self.writeln("</ul>")
        self.writeln(
            '<form method="post"><input name="name">'
            '<button name="_action_" value="sign">Sign</button></form>'
        )
