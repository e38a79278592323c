"""The smallest servlet: a page that says hello."""

from relays_servlets import Page


class Hello(Page):
    def writeContent(self) -> None:
        self.write("Hello, world")
