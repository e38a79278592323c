"""Happy eyeballs (RFC 8305): a silent address does not hold up the next one.

The addresses and the attempts are replaced (``_resolve``, ``_attempt``) so that an
address can be made to hang for ever, which loopback alone cannot do reliably.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from relays_http.client import _connection
from relays_http.client._connection import _interleave, happy_eyeballs

V4 = (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 80))
V6 = (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", 80, 0, 0))


def test_families_alternate_first_family_first() -> None:
    a6, b6 = V6, (*V6[:4], ("::2", 80, 0, 0))
    a4 = V4
    assert _interleave([a6, b6, a4]) == [a6, a4, b6]
    assert _interleave([a4, a6, b6]) == [a4, a6, b6]


@pytest.fixture
def attempts(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Two addresses, "slow" then "good"; say per address what its attempt does."""
    plan: dict[str, Any] = {"order": [], "cancelled": []}

    async def resolve(host: str, port: int) -> list[Any]:
        return [("slow",), ("good",)]

    async def attempt(info: Any) -> Any:
        name = info[0]
        plan["order"].append(name)
        try:
            return await plan[name]()
        except asyncio.CancelledError:
            plan["cancelled"].append(name)
            raise

    monkeypatch.setattr(_connection, "_resolve", resolve)
    monkeypatch.setattr(_connection, "_attempt", attempt)
    return plan


async def test_a_silent_address_is_passed_after_the_delay(attempts: dict[str, Any]) -> None:
    winner = socket.socket()
    never = asyncio.Event()

    async def slow() -> Any:
        await never.wait()

    async def good() -> Any:
        return winner

    attempts.update(slow=slow, good=good)
    try:
        assert await happy_eyeballs("example.test", 80, 0.01) is winner
    finally:
        winner.close()
    assert attempts["order"] == ["slow", "good"]
    assert attempts["cancelled"] == ["slow"]


async def test_a_failed_address_starts_the_next_at_once(attempts: dict[str, Any]) -> None:
    winner = socket.socket()

    async def slow() -> Any:
        raise ConnectionRefusedError("refused")

    async def good() -> Any:
        return winner

    attempts.update(slow=slow, good=good)
    try:
        # An hour's delay: only "at once after a failure" lets this test end.
        assert await happy_eyeballs("example.test", 80, 3600) is winner
    finally:
        winner.close()


async def test_the_last_error_is_raised_when_every_address_fails(
    attempts: dict[str, Any],
) -> None:
    async def slow() -> Any:
        raise ConnectionRefusedError("first")

    async def good() -> Any:
        raise ConnectionResetError("second")

    attempts.update(slow=slow, good=good)
    with pytest.raises(ConnectionResetError, match="second"):
        await happy_eyeballs("example.test", 80, 0.01)
