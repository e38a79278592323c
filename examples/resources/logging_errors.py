"""Logging errors: work that fails after ``NOT_DONE_YET`` is logged with its
traceback, and the client gets a plain 500 rather than a hung request."""

import asyncio
import logging

from relays_resources import NOT_DONE_YET, Resource

logger = logging.getLogger("examples.logging_errors")


async def compute():
    await asyncio.sleep(0)
    raise ZeroDivisionError("the computation failed")


class Failing(Resource):
    isLeaf = True

    def render_GET(self, request):
        task = asyncio.ensure_future(compute())
        task.add_done_callback(lambda done: self.answer(done, request))
        return NOT_DONE_YET

    def answer(self, done, request):
        error = done.exception()
        if error is not None:
            logger.error("rendering %r failed", request, exc_info=error)
            request.setResponseCode(500)
            request.write(b"<html><body>Something went wrong; it is logged.</body></html>")
        else:
            request.write(done.result())
        request.finish()


root = Failing()
