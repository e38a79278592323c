"""A Starlette app mounted at ``/api`` next to relays controllers at ``/``.

Run it with ``python mounted.py [bind]``; ``/api/...`` is Starlette's (with
``root_path`` ``/api``), everything else the relays dispatcher's.
"""

import sys
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from relays_asgi import Asgi
from relays_http import Controller, Server


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"hello": request.path_params["name"], "url": str(request.url)})


async def count(request: Request) -> StreamingResponse:
    async def numbers() -> AsyncIterator[str]:
        for number in range(5):
            yield f"{number}\n"

    return StreamingResponse(numbers(), media_type="text/plain")


api = Starlette(routes=[Route("/hello/{name}", hello), Route("/count", count)])


class Root(Controller):
    def index(self) -> str:
        return "relays here; the API is under /api"


if __name__ == "__main__":
    bind = sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:8000"
    server = Server(bind) + Asgi(api, "/api") + Root()
    server.run()
