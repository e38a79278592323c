"""An interrupted response: when the client leaves before the timer fires,
``notifyFinish()`` fails and the page cancels its timer (no work for nobody)."""

import asyncio
import logging

from relays_resources import NOT_DONE_YET, Resource

logger = logging.getLogger("examples.interrupted")

#: How long the page would take (seconds).
DELAY = 30.0


class Patient(Resource):
    isLeaf = True

    def __init__(self):
        super().__init__()
        #: Called with the request once its timer was cancelled (tests watch it).
        self.on_cancelled = lambda request: None

    def render_GET(self, request):
        request.write(b"wait for it... ")
        timer = asyncio.get_running_loop().call_later(DELAY, self.later, request)
        request.notifyFinish().add_done_callback(lambda done: self.ended(done, timer, request))
        return NOT_DONE_YET

    def later(self, request):
        request.write(b"done")
        request.finish()

    def ended(self, done, timer, request):
        if done.exception() is not None:
            timer.cancel()
            logger.info("the client left: timer cancelled")
            self.on_cancelled(request)


root = Patient()
