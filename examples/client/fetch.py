"""Fetch, stream and post with relays' HTTP client.

    python examples/client/fetch.py http://127.0.0.1:8000/

Each function is one how-to recipe; tests/plugins/http/client/test_examples.py runs them
against a local server.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from relays_http.client import PoolLimits, Session, Timeouts


async def fetch_json(url: str) -> Any:
    """GET a JSON document, with a query string; a 4xx or 5xx raises HTTPStatusError."""
    async with Session() as session:
        response = await session.get(url, params={"page": 2, "tag": ["a", "b"]})
        response.raise_for_status()
        return response.json()


async def post_form_and_json(url: str) -> tuple[str, str]:
    """POST a form (``data=``), then JSON (``json=``); return both answers as text."""
    async with Session() as session:
        form = await session.post(url, data={"name": "relays", "kind": "framework"})
        document = await session.post(url, json={"name": "relays", "tags": ["asyncio"]})
        return form.text, document.text


async def download(url: str, path: Path) -> int:
    """Stream a large body to a file piece by piece; return how many bytes were written."""
    written = 0
    async with Session() as session, session.stream("GET", url) as response:
        response.raise_for_status()
        with path.open("wb") as file:
            async for chunk in response.iter_bytes():
                file.write(chunk)
                written += len(chunk)
    return written


async def upload(url: str, path: Path) -> int:
    """Stream a file up as the body of a PUT (sent with its length, read in a thread)."""
    async with Session() as session:
        with path.open("rb") as file:
            response = await session.put(url, content=file)
        return response.status_code


async def many(url: str, count: int) -> list[int]:
    """Fetch ``count`` times at once over at most 10 kept-alive connections."""
    limits = PoolLimits(max_connections=10)
    timeouts = Timeouts(connect=5, read=10, total=30)
    async with Session(pool_limits=limits, timeouts=timeouts) as session:
        responses = await asyncio.gather(*(session.get(url) for _ in range(count)))
        return [response.status_code for response in responses]


async def main(url: str) -> None:
    async with Session() as session:
        response = await session.get(url)
        print(response.status_code, response.reason, response.headers.get("content-type"))
        print(response.text[:200])


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000/"))
