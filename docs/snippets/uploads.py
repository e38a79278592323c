"""Saving uploads under the names clients gave them, made safe with ``safe_filename()``."""

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

from relays import Component
from relays_http import Request, Response, safe_filename
from relays_http.testing import Client, memory_server


class Uploads(Component):
    channel = "web"

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = directory

    async def request(self, request: Request, response: Response) -> dict[str, str]:
        form = await request.form()
        upload = form.file("document")
        if upload is None:
            return {"error": "no document"}
        # The client chose upload.filename: never join it to a path as it is.
        name = safe_filename(upload.filename)
        await asyncio.to_thread(self.save, upload.file, name)  # disk work off the loop
        return {"saved": name}

    def save(self, data: BinaryIO, name: str) -> None:
        with open(self.directory / name, "xb") as saved:  # never overwrite another upload
            shutil.copyfileobj(data, saved)


def multipart(filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = "relays-example"
    body = (
        (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="document"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


async def upload_all(directory: Path) -> None:
    server, transport = memory_server(Uploads(directory))
    async with server:
        for filename in ("report.pdf", "../../etc/passwd", "/home/me/photo.jpg", "CON"):
            body, content_type = multipart(filename, b"data")
            client = Client(transport)
            answer = await client.post("/", body, headers={"Content-Type": content_type})
            print(f"{filename!r} -> {answer.json()['saved']!r}")


with tempfile.TemporaryDirectory() as directory:
    asyncio.run(upload_all(Path(directory)))
    print(sorted(path.name for path in Path(directory).iterdir()))
