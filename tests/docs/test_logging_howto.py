"""The logging how-to's transcript and log lines are what ``relays serve`` prints.

docs/howto/logging.rst serves ``examples/logging/myapp.py`` with ``relays serve myapp:App
--access-log -`` and shows four things: the access line on stdout, the error log's first
traceback, the count of its repeats and the lines of refused requests. One real server
answers a request of each kind here; then every block is compared with what it printed, with
the parts that vary from run to run masked in both (the time, the port, the duration, the
count of repeats, the client's address, the folder of the file).
"""

from __future__ import annotations

import re
import socket
import urllib.error
import urllib.request

import pytest
from docs_code_blocks import ROOT, Block, blocks_of
from served import serve_as_shown
from test_transcripts import abridged_matches

pytestmark = pytest.mark.integration

PAGE = ROOT / "docs" / "howto" / "logging.rst"
EXAMPLE = ROOT / "examples" / "logging" / "myapp.py"
#: Seconds for any one step (a request, the stop).
WITHIN = 15

#: (pattern, replacement): what varies between runs, masked in the page and in the output.
MASKS = [
    (re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ", re.M), ""),  # stderr's time
    (re.compile(r"\[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]"), "[TIME]"),
    (re.compile(r"http://127\.0\.0\.1:\d+/"), "http://127.0.0.1:PORT/"),
    (re.compile(r'("curl/)[\d.]+(") \d+$', re.M), r"\1VERSION\2 DURATION"),
    (re.compile(r"raised \d+ more times in the last [\d.]+ s"), "raised N more times in T s"),
    (re.compile(r'File "[^"]*/'), 'File "'),
    (re.compile(r"bad request from [\d.]+:"), "bad request from ADDRESS:"),
]


def masked(text: str) -> str:
    for pattern, replacement in MASKS:
        text = pattern.sub(replacement, text)
    return text


def shown(first_line: str) -> Block:
    (block,) = [b for b in blocks_of(PAGE) if b.text.startswith(first_line)]
    return block


def refused(port: int, head: bytes) -> bytes:
    """What the server on *port* answers to a request head sent over a raw socket."""
    with socket.create_connection(("127.0.0.1", port), timeout=WITHIN) as sock:
        sock.sendall(head)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer


@pytest.fixture(scope="module")
def printed() -> tuple[str, str]:
    """stdout and stderr of the how-to's server, after one request of every kind shown."""
    (console,) = [b for b in blocks_of(PAGE) if b.language == "console"]
    (command,) = console.commands()
    # The page's command, on a free port instead of the default 8000.
    with serve_as_shown(command, EXAMPLE.parent) as served:
        request = urllib.request.Request(served.url, headers={"User-Agent": "curl/8.5.0"})
        with urllib.request.urlopen(request, timeout=WITHIN) as answer:
            assert answer.read() == b"hello world"
        for _ in range(3):  # the first failure is logged whole, the two others counted
            with pytest.raises(urllib.error.HTTPError) as caught:
                urllib.request.urlopen(served.url + "fail", timeout=WITHIN)
            assert caught.value.code == 500
            caught.value.close()
        large_field = b"X-Large: " + b"a" * 20_000
        head = b"GET / HTTP/1.1\r\nHost: x\r\n" + large_field + b"\r\n\r\n"
        assert refused(served.port, head).startswith(b"HTTP/1.1 431 ")
        too_long = b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n"
        assert refused(served.port, too_long).startswith(b"HTTP/1.1 413 ")
    # Stopped by a SIGTERM on the way out: the count of repeats is written on stop.
    return served.line + served.stdout, served.stderr


def test_the_access_line_on_stdout(printed: tuple[str, str]) -> None:
    (console,) = [b for b in blocks_of(PAGE) if b.language == "console"]
    (command,) = console.commands()
    out, _ = printed
    first_lines = "".join(line + "\n" for line in out.splitlines()[:2])
    assert masked(first_lines) == masked(console.output_of(command))


@pytest.mark.parametrize(
    "first_line",
    [
        "ERROR relays.error: request handler failed",  # the first failure, whole
        "ERROR relays.error: RuntimeError raised",  # its repeats, counted
        "WARNING relays.error: bad request",  # the refused requests
    ],
)
def test_the_lines_on_stderr(printed: tuple[str, str], first_line: str) -> None:
    _, err = printed
    assert abridged_matches(masked(shown(first_line).text), masked(err)) == []


def test_the_masks_leave_what_matters() -> None:
    # A mask that hid a status, a path or a message would let the page drift unseen.
    line = '127.0.0.1 - - [22/Nov/2026:20:29:27 +0000] "GET / HTTP/1.1" 200 11 "-" "curl/8.5.0" 3'
    assert (
        masked(line) == '127.0.0.1 - - [TIME] "GET / HTTP/1.1" 200 11 "-" "curl/VERSION" DURATION'
    )
    assert masked("bad request from 10.0.0.1: 431 x") == "bad request from ADDRESS: 431 x"
    assert masked('at File "/a/b/myapp.py", line 15') == 'at File "myapp.py", line 15'
