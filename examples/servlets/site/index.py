"""The welcome page: ``/`` and ``/index``."""

from relays_servlets import Page


class index(Page):
    def title(self) -> str:
        return "Welcome"

    def writeContent(self) -> None:
        self.writeln('<h1 id="welcome">Welcome to relays-servlets</h1>')
        self.writeln('<p><a href="Guestbook">Guestbook</a> <a href="Counter">Counter</a></p>')
