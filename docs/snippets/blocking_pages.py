"""Blocking code off the event loop: a thread page, a thread handler, and what they change."""

import asyncio
import threading

from relays import Component, Event, handler
from relays_http import Controller, Dispatcher
from relays_http.testing import Client, memory_server

#: Stands for whatever the slow page waits on (a database, a remote service).
database = threading.Event()


class Reports(Controller):
    thread = True  # every plain page of this class runs in the kernel's thread pool

    def slow(self) -> str:
        database.wait()  # blocks this page's thread, never the event loop
        return "report ready"

    def fast(self) -> str:
        return "still answering"


class Archive(Component):
    @handler("archive", thread=True)  # one handler of a component, in a thread
    def archive(self, name: str) -> str:
        return f"{name} archived in a {threading.current_thread().name.split('_')[0]} thread"


async def main() -> None:
    server, transport = memory_server(Dispatcher(), Reports(), Archive())
    async with server:
        client = Client(transport)
        slow = asyncio.ensure_future(client.get("/slow"))
        fast = await client.get("/fast")  # answered while /slow is blocked
        print(fast.body.decode(), "| slow page done yet:", slow.done())
        database.set()
        print((await slow).body.decode())
        print(await server.call(Event.create("archive", "2026-12")))


asyncio.run(main())
