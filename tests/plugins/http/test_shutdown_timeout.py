"""``shutdown_timeout`` from ``Server``/``BaseServer`` and ``--shutdown-timeout`` to ``HTTP``."""

from __future__ import annotations

import argparse

import pytest

from relays import Component
from relays.testing import MemoryTransport
from relays_http import BaseServer, Server
from relays_http._cli import add_commands, build_server


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="relays")
    add_commands(root.add_subparsers(dest="command"))
    return root


def test_servers_pass_it_to_the_protocol() -> None:
    assert BaseServer(transport=MemoryTransport()).http.shutdown_timeout == 4.0
    assert (
        BaseServer(transport=MemoryTransport(), shutdown_timeout=0.5).http.shutdown_timeout == 0.5
    )
    assert Server(transport=MemoryTransport(), shutdown_timeout=12).http.shutdown_timeout == 12


@pytest.mark.parametrize("seconds", [-1, float("nan"), float("inf")])
def test_bad_timeouts_are_refused(seconds: float) -> None:
    with pytest.raises(ValueError, match="shutdown_timeout"):
        BaseServer(transport=MemoryTransport(), shutdown_timeout=seconds)


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_the_command_line_option(command: str) -> None:
    default = parser().parse_args([command, "--bind", "tcp://127.0.0.1:0"])
    assert default.shutdown_timeout == 4.0
    options = parser().parse_args([command, "--shutdown-timeout", "0.25"])
    assert options.shutdown_timeout == 0.25
    server = build_server(Component(), options, bind="tcp://127.0.0.1:0", quiet=True)
    assert server.http.shutdown_timeout == 0.25


@pytest.mark.parametrize("text", ["-1", "soon", "inf"])
def test_the_option_refuses_bad_values(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(["serve", "--shutdown-timeout", text])
    assert "--shutdown-timeout" in capsys.readouterr().err
