"""Requests per second of the relays-http protocol core, next to h11 (and httptools).

Run from the repository root: ``python3 benchmarks/http_parser.py [--seconds 10]``.

Three measurements per library, on the same typical browser GET (6 headers):

* ``parse``: a fresh connection object, feed the whole request, read the
  request and its end (what a server does on a new connection);
* ``cycle``: one keep-alive connection: parse a request, send a small response
  (200, 2 headers, 13-byte body), start the next cycle (the steady state);
* ``serialise``: the part of a cycle spent on the response (cycle - parse on the
  kept-alive connection, measured separately);
* ``whole-cycle``: relays' cycle as its server runs it, the response (with its
  Content-Length) in one ``send_whole`` call.

httptools only parses (it has no serialiser), so it appears in ``parse``.
Each figure is the best of several interleaved runs, to hide scheduler noise.
"""

from __future__ import annotations

import os
import sys

# benchmarks/http.py would shadow the standard library's http package (which
# relays_http imports) when this script's folder is first on sys.path.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [path for path in sys.path if os.path.abspath(path or ".") != _HERE]

import argparse  # noqa: E402
import importlib.metadata  # noqa: E402
import pathlib  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

try:
    import relays_http._protocol as relays
except ImportError:  # not installed yet: use the source tree
    sys.path.insert(0, str(pathlib.Path(__file__).parents[1] / "plugins" / "http" / "src"))
    import relays_http._protocol as relays

import h11  # noqa: E402

REQUEST = (
    b"GET /api/items?page=2 HTTP/1.1\r\n"
    b"Host: example.com\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    b"Accept-Language: en-US,en;q=0.5\r\n"
    b"Accept-Encoding: gzip, deflate, br\r\n"
    b"Connection: keep-alive\r\n"
    b"\r\n"
)
BODY = b"Hello, world!"
HEADERS = [(b"Content-Type", b"text/plain; charset=utf-8"), (b"Content-Length", b"13")]


def relays_parse() -> None:
    connection = relays.Connection()
    connection.receive_data(REQUEST)
    request = connection.next_event()
    end = connection.next_event()
    assert type(request) is relays.Request
    assert type(end) is relays.EndOfMessage


def h11_parse() -> None:
    connection = h11.Connection(h11.SERVER)
    connection.receive_data(REQUEST)
    request = connection.next_event()
    end = connection.next_event()
    assert type(request) is h11.Request
    assert type(end) is h11.EndOfMessage


def make_relays_cycle() -> Callable[[], None]:
    connection = relays.Connection()

    def cycle() -> None:
        connection.receive_data(REQUEST)
        connection.next_event()
        connection.next_event()
        out = b"".join(
            (
                connection.send(relays.Response(200, HEADERS)),
                connection.send(relays.Data(BODY)),
                connection.send(relays.EndOfMessage()),
            )
        )
        assert out.endswith(BODY)
        connection.start_next_cycle()

    return cycle


def make_relays_whole_cycle() -> Callable[[], None]:
    """The cycle as the server runs it: the response in one ``send_whole`` call."""
    connection = relays.Connection()
    headers = HEADERS[:1]

    def cycle() -> None:
        connection.receive_data(REQUEST)
        connection.next_event()
        connection.next_event()
        out = connection.send_whole(relays.Response(200, headers), BODY)
        assert out.endswith(BODY)
        connection.start_next_cycle()

    return cycle


def make_h11_cycle() -> Callable[[], None]:
    connection = h11.Connection(h11.SERVER)

    def cycle() -> None:
        connection.receive_data(REQUEST)
        connection.next_event()
        connection.next_event()
        out = b"".join(
            (
                connection.send(h11.Response(status_code=200, headers=HEADERS)) or b"",
                connection.send(h11.Data(data=BODY)) or b"",
                connection.send(h11.EndOfMessage()) or b"",
            )
        )
        assert out.endswith(BODY)
        connection.start_next_cycle()

    return cycle


def make_relays_parse_kept_alive() -> Callable[[], None]:
    """Parse on a kept-alive connection, skipping the response (for the serialise figure)."""
    connection = relays.Connection()

    def parse() -> None:
        connection.receive_data(REQUEST)
        connection.next_event()
        connection.next_event()
        # Cheapest legal way back to IDLE, so the parse dominates.
        connection.our_state = relays.State.DONE
        connection.their_state = relays.State.DONE
        connection.start_next_cycle()

    return parse


def make_httptools_parse() -> Callable[[], None] | None:
    try:
        import httptools
    except ImportError:
        return None

    class Protocol:
        def __init__(self) -> None:
            self.headers: list[tuple[bytes, bytes]] = []
            self.url = b""
            self.complete = False

        def on_url(self, url: bytes) -> None:
            self.url += url

        def on_header(self, name: bytes, value: bytes) -> None:
            self.headers.append((name.lower(), value))

        def on_message_complete(self) -> None:
            self.complete = True

    def parse() -> None:
        protocol = Protocol()
        parser = httptools.HttpRequestParser(protocol)
        parser.feed_data(REQUEST)
        assert protocol.complete
        assert parser.get_method() == b"GET"
        parser.should_keep_alive()

    return parse


def rates(
    cases: dict[str, Callable[[], None]], seconds: float, rounds: int = 7
) -> dict[str, float]:
    """Best calls per second of each case over ``rounds`` interleaved runs.

    Interleaving the cases (rather than running each to completion) spreads
    the noise of a shared machine evenly over all of them.
    """
    best = dict.fromkeys(cases, 0.0)
    for _ in range(rounds):
        for name, function in cases.items():
            calls = 0
            start = time.perf_counter()
            deadline = start + seconds / rounds / len(cases)
            while True:
                for _ in range(200):
                    function()
                calls += 200
                now = time.perf_counter()
                if now >= deadline:
                    break
            best[name] = max(best[name], calls / (now - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="total time to measure")
    seconds = parser.parse_args().seconds

    cases: dict[str, Callable[[], None]] = {
        "parse relays": relays_parse,
        "parse h11": h11_parse,
        "cycle relays": make_relays_cycle(),
        "whole-cycle relays": make_relays_whole_cycle(),
        "cycle h11": make_h11_cycle(),
        "kept-alive parse relays": make_relays_parse_kept_alive(),
    }
    httptools_parse = make_httptools_parse()
    if httptools_parse is not None:
        cases["parse httptools"] = httptools_parse
    best = rates(cases, seconds)
    best["serialise relays"] = 1 / (1 / best["cycle relays"] - 1 / best["kept-alive parse relays"])
    del best["kept-alive parse relays"]

    print(f"python {sys.version.split()[0]}, h11 {importlib.metadata.version('h11')}")
    print(f"{'what':<10} {'library':<10} {'requests/s':>12} {'µs each':>9}")
    for name in sorted(best):
        what, library = name.split(" ")
        print(f"{what:<10} {library:<10} {best[name]:>12,.0f} {1e6 / best[name]:>9.2f}")
    print(f"relays / h11 parse: {best['parse relays'] / best['parse h11']:.2f}x")
    print(f"relays / h11 cycle: {best['cycle relays'] / best['cycle h11']:.2f}x")
    if "parse httptools" in best:
        print(f"relays / httptools parse: {best['parse relays'] / best['parse httptools']:.2f}x")


if __name__ == "__main__":
    main()
