"""The same resource tree on Twisted Web (from PyPI) and on relays-resources, asked the
same requests with curl: status, body and the key headers must be the same."""

from __future__ import annotations

import asyncio
import pathlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from relays_http import Server
from relays_http.testing import serve_in_thread
from relays_resources import NOT_DONE_YET, Resource, Site

from .side_by_side_tree import build

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed"),
]
twisted = pytest.importorskip("twisted", reason="twisted is not installed (dev dependency)")

HERE = pathlib.Path(__file__).parent
KEY_HEADERS = ("content-type", "content-length", "location", "allow", "x-reason")

REQUESTS: list[tuple[str, ...]] = [
    ("/hello/a/b",),
    ("/hello",),
    ("/form?b=2&a=1&a=3",),
    ("/form", "-d", "name=fred"),
    ("/code",),
    ("/slow",),
    ("/numbers/42",),
    ("/hello/x", "-I"),
    ("/nothing",),
    ("/code", "-X", "DELETE"),
    ("/code", "-X", "POST"),
    ("/form", "-X", "PUT"),
]


def later(delay: float, function: Any, *args: Any) -> None:
    asyncio.get_running_loop().call_later(delay, function, *args)


@pytest.fixture(scope="module")
def twisted_url() -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, str(HERE / "side_by_side_tree.py"), "twisted"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)
        assert process.stdout is not None
        process.stdout.close()


@pytest.fixture(scope="module")
def relays_url() -> Iterator[str]:
    site = Site(build(Resource, NOT_DONE_YET, later))
    with serve_in_thread(Server("tcp://127.0.0.1:0") + site) as server:
        yield server.url.rstrip("/")


def allowed(headers: dict[str, str]) -> set[str]:
    return {method.strip() for method in headers.get("allow", "").split(",") if method}


def ask(url: str, *options: str) -> tuple[int, dict[str, str], bytes]:
    done = subprocess.run(
        ["curl", "-sS", "-i", "--max-time", "10", *options, url], capture_output=True, check=True
    )
    head, _, body = done.stdout.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.lower() in KEY_HEADERS:
            headers[name.lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


@pytest.mark.parametrize("request_", REQUESTS, ids=lambda each: " ".join(each))
def test_same_answers(twisted_url: str, relays_url: str, request_: tuple[str, ...]) -> None:
    path, *options = request_
    theirs = ask(twisted_url + path, *options)
    ours = ask(relays_url + path, *options)
    assert ours[0] == theirs[0]
    if ours[0] < 400:  # error pages are each server's own words
        assert ours[2] == theirs[2]
        assert ours[1] == theirs[1]
    else:
        # Allow is a set: the order of its methods means nothing.
        assert allowed(ours[1]) == allowed(theirs[1])
