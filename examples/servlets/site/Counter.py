"""A page using the session: it counts this visitor's visits."""

from relays_servlets import Page


class Counter(Page):
    def writeContent(self) -> None:
        session = self.session()
        visits = int(session.get("visits", 0)) + 1
        session["visits"] = visits
        self.writeln(f'<p id="visits">visits: {visits}</p>')
