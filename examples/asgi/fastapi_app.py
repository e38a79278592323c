"""A FastAPI app served by relays.

Run it with ``python fastapi_app.py [bind]``, or from this folder with
``relays serve fastapi_app:app``: relays-asgi recognises the ASGI app by its shape.
"""

import sys
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from relays_asgi import Asgi
from relays_http import Server


@asynccontextmanager
async def lifespan(app: FastAPI) -> Any:
    # Runs before the first request is served, and again when the server stops.
    yield {"greeting": "hello"}


app = FastAPI(lifespan=lifespan)


@app.get("/items/{item_id}")
async def read_item(item_id: int, q: str | None = None) -> dict[str, Any]:
    return {"item_id": item_id, "q": q}


if __name__ == "__main__":
    bind = sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:8000"
    server = Server(bind) + Asgi(app)
    server.run()
