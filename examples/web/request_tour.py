"""What a handler reads from the request and sets on the response, and a hook around it.

``Tour`` answers every request with a JSON summary of what it read (JSON bodies and forms,
an uploaded ``picture`` included), as a 201 with a cookie; ``Stamp`` names the kind of answer
in an ``X-Answer`` field of every response::

    $ python examples/web/request_tour.py
    $ curl -i -F picture=@photo.jpg 'http://127.0.0.1:8000/upload?tag=a&tag=b'
"""

import sys
from typing import Any

from relays import Component, handler
from relays_http import Request, Response, Server


class Tour(Component):
    channel = "web"

    async def request(self, request: Request, response: Response) -> dict[str, Any]:
        seen: dict[str, Any] = {
            "method": request.method,
            "path": request.path,
            "tags": request.query.getall("tag"),
            "agent": request.headers.get("User-Agent"),
            "session": request.cookies.get("session"),
            "scheme": request.scheme,
            "host": request.host,
            "url": request.url,
        }
        if request.content_type == "application/json":
            seen["data"] = await request.json()  # BadRequest (400) when it is not JSON
        elif request.method == "POST":
            form = await request.form()  # urlencoded or multipart
            upload = form.file("picture")  # UploadedFile: filename, content_type, file
            if upload is not None:
                seen["picture"] = [upload.filename, upload.content_type, len(upload.file.read())]
        response.status = 201
        response.headers["Cache-Control"] = "no-store"
        response.set_cookie("session", "abc", httponly=True, secure=True, samesite="Lax")
        return seen


class Stamp(Component):
    channel = "web"

    @handler("before_response")
    async def stamp(self, request: Request, response: Response, result: object) -> None:
        target = result if isinstance(result, Response) else response
        target.headers["X-Answer"] = type(result).__name__


def build(bind: str) -> Server:
    return Server(bind) + Tour() + Stamp()


if __name__ == "__main__":
    build(sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:8000").run()
