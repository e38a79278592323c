"""A servlet that blocks its thread for 100 ms, as blocking code (a database) does."""

import time

from relays_servlets import Page


class Slow(Page):
    def writeContent(self) -> None:
        time.sleep(0.1)  # blocks a pool thread, never the event loop
        self.write("slow done")
