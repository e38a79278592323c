"""``flush()`` sends the head and what is written so far; the rest follows."""

from relays_servlets import Page


class Stream(Page):
    def writeContent(self) -> None:
        self.write("first;")
        self.response().flush()
        self.write("second")
