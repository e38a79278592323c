"""The benchmark scripts on the shared harness still run and print their tables."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
from collections.abc import Callable

import pytest

pytestmark = pytest.mark.slow


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def rows(output: str, *first_words: str) -> list[str]:
    """The lines of *output* whose first words are these (a table's row)."""
    wanted = " ".join(first_words).split()
    return [line for line in output.splitlines() if line.split()[: len(wanted)] == wanted]


def test_websocket_prints_a_row_per_size_and_server(run_benchmark: Callable[..., str]) -> None:
    output = run_benchmark("websocket", "--quick", "--connections", "2")
    for size in ("64", "65536"):
        for server in ("relays", "websockets", "aiohttp"):
            assert len(rows(output, size, server)) == 1, output
    assert "relays masked with:" in output


def test_bridge_prints_the_process_rows(run_benchmark: Callable[..., str]) -> None:
    systems = ["relays-process"] + (["circuits-process"] if installed("circuits") else [])
    output = run_benchmark(
        "bridge", "--only", ",".join(systems), "--events", "50", "--calls", "5", "--rounds", "1"
    )
    assert len(rows(output, "relays-process")) == 1, output
    if "circuits-process" in systems:
        # circuits' Bridge now and then loses a call's event and waits for ever: the
        # script says so instead of hanging (bridge.PEER_TIMEOUT).
        hung = "circuits-process: round 1 did not finish" in output
        assert hung or len(rows(output, "circuits-process")) == 1, output
        assert hung or "relays-process: target 2.0x circuits-process" in output


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
def test_bridge_starts_and_stops_its_broker(run_benchmark: Callable[..., str]) -> None:
    output = run_benchmark(
        "bridge", "--only", "relays-redis", "--events", "50", "--calls", "5", "--rounds", "1"
    )
    assert len(rows(output, "relays-redis")) == 1, output


def test_hostile_prints_a_row_per_attack_and_server(run_benchmark: Callable[..., str]) -> None:
    # gunicorn listens before its worker answers: the harness's wait and the first probe.
    servers = ["relays"] + (["gunicorn-gthread"] if installed("gunicorn") else [])
    output = run_benchmark(
        "hostile", "--seconds", "2", "--connections", "10", "--slow-readers", "2",
        "--attacks", "idle", "--only", ",".join(servers),
    )  # fmt: skip
    for server in servers:
        found = rows(output, "idle", server)
        assert len(found) == 1, output
        assert re.search(r"\d+ MB +\d+ MB", found[0]), found


@pytest.mark.skipif(
    shutil.which("nginx") is None and not os.path.exists("/usr/sbin/nginx"),
    reason="needs nginx (apt-get install nginx)",
)
def test_client_prints_a_row_per_client(run_benchmark: Callable[..., str]) -> None:
    output = run_benchmark("client", "--quick", "--workers", "5", "--only", "relays,aiohttp")
    for client in ("relays", "aiohttp"):
        assert len(rows(output, "round", "1:", client)) == 1, output
        assert len(rows(output, client)) == 1, output
    assert "PASS" in output or "MISS" in output


def test_rpc_flood_prints_both_limits(run_benchmark: Callable[..., str]) -> None:
    output = run_benchmark(
        "rpc_flood", "--seconds", "1", "--settle", "0.2", "--budget-mib", "0.2",
        "--connections", "4",
    )  # fmt: skip
    assert len(rows(output, "16 (default)")) == 1, output
    assert len(rows(output, "no limit")) == 1, output


needs_wrk = pytest.mark.skipif(
    shutil.which("wrk") is None, reason="needs wrk (apt-get install wrk)"
)


@needs_wrk
def test_http_prints_a_row_per_server_and_mode(run_benchmark: Callable[..., str]) -> None:
    output = run_benchmark(
        "http", "--quick", "--only", "relays", "--modes", "keep-alive,close", "--connections", "5"
    )
    for mode in ("keep-alive", "close"):
        found = rows(output, "relays", mode)
        assert len(found) == 1, output
        assert len(found[0].split()) == 10, found  # every column, a figure in each


@needs_wrk
@pytest.mark.skipif(
    not all(installed(name) for name in ("relays_asgi", "uvloop", "starlette", "fastapi")),
    reason="needs starlette and fastapi (benchmarks/requirements-http.txt)",
)
def test_asgi_prints_a_row_per_app_and_mode(run_benchmark: Callable[..., str]) -> None:
    output = run_benchmark(
        "asgi", "--quick", "--only", "relays", "--modes", "keep-alive", "--connections", "5"
    )
    for app in ("starlette", "fastapi"):
        assert len(rows(output, f"{app}/relays", "keep-alive")) == 1, output


@needs_wrk
def test_compression_prints_a_row_per_server(run_benchmark: Callable[..., str]) -> None:
    output = run_benchmark("compression", "--quick", "--only", "relays")
    assert len(rows(output, "|", "relays", "|")) == 1, output


@needs_wrk
def test_static_prints_a_row_per_server(run_benchmark: Callable[..., str]) -> None:
    output = run_benchmark("static", "--quick", "--only", "relays")
    assert len(rows(output, "|", "relays", "|")) == 1, output


def test_events_prints_a_row_per_measure(run_benchmark: Callable[..., str]) -> None:
    output = run_benchmark("events", "--quick", "--relays-only", "--rows", "drain,priority")
    assert len(rows(output, "drain")) == 1, output
    assert len(rows(output, "priority")) == 1, output


@needs_wrk
@pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None, reason="needs gcc")
def test_seeds_gives_relays_rows_their_rate_over_the_c_floor(
    run_benchmark: Callable[..., str],
) -> None:
    output = run_benchmark(
        "seeds",
        *("--only", "relays-resources,c-floor", "--loops", "asyncio"),
        *("--seconds", "1", "--repeat", "1", "--connections", "5"),
    )
    for mode in ("keep-alive", "close"):
        found = rows(output, "relays-resources", "asyncio", mode)
        assert len(found) == 1, output
        assert re.search(r"\d\.\d\dx c-floor", found[0]), found
        assert len(rows(output, "c-floor", "-", mode)) == 1, output
