"""An API that browsers on another site may call, that speaks JSON or HTML as the client
prefers, and that pushes server-sent events.

``CORS`` answers the browsers' preflights and marks the answers for the allowed origin;
``request.accepts()`` picks the representation from ``Accept``; ``event_stream()`` turns
an async generator into a ``text/event-stream`` body with keep-alive comments. An address
on the command line (``tcp://127.0.0.1:8080``) changes where it listens.
"""

import asyncio
import sys
from collections.abc import AsyncIterator

from relays_http import (
    CORS,
    Controller,
    HTTPError,
    Server,
    ServerSentEvent,
    event_stream,
    last_event_id,
)

ITEMS = {"1": "first item", "2": "second item"}


class Items(Controller):
    channel = "/items"

    def GET(self, key: str) -> object:
        if key not in ITEMS:
            raise HTTPError(404, f"no item {key}")
        chosen = self.request.accepts("application/json", "text/html")
        if chosen == "application/json":
            return {"key": key, "text": ITEMS[key]}
        if chosen == "text/html":
            return f"<p>{ITEMS[key]}</p>"
        raise HTTPError(406, "this item is available as application/json or text/html")


class Clock(Controller):
    channel = "/clock"

    def GET(self) -> AsyncIterator[bytes]:
        start = int(last_event_id(self.request) or 0)  # a browser resuming says where
        return event_stream(self.response, ticks(start), keep_alive=15.0, retry=3000)


async def ticks(start: int) -> AsyncIterator[ServerSentEvent]:
    for number in range(start + 1, start + 4):
        yield ServerSentEvent(f"tick {number}", id=str(number), event="tick")
        await asyncio.sleep(0.1)


if __name__ == "__main__":
    bind = sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:8000"
    cors = CORS(["https://app.example.com"], allow_methods=["GET", "PUT"], max_age=600)
    (Server(bind) + cors + Items() + Clock()).run()
