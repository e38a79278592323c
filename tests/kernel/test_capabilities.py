"""Optional connection capabilities: named protocols, asked once per connection class."""

from __future__ import annotations

from typing import IO

from relays.transports import (
    SupportsDeferAccept,
    SupportsDrain,
    SupportsSendfile,
    supports,
    supports_drain,
    supports_sendfile,
)


class Plain:
    pass


class Draining:
    async def drain(self) -> None:
        return None


class Sending(Draining):
    async def sendfile(self, file: IO[bytes], offset: int = 0, count: int | None = None) -> int:
        return 0


class Deferring:
    defer_accept: float | None = None


def test_the_answers_follow_the_methods_a_class_has() -> None:
    assert not supports_drain(Plain())
    assert supports_drain(Draining())
    assert not supports_sendfile(Draining())
    assert supports_sendfile(Sending())
    assert supports(Sending(), SupportsDrain)
    assert supports(Deferring(), SupportsDeferAccept)
    assert not supports(Plain(), SupportsDeferAccept)


def test_the_answer_is_remembered_per_class() -> None:
    # The second instance of a class is not examined: an instance attribute added later does
    # not change what its class answered (capabilities belong to classes, not instances).
    class Late:
        pass

    first = Late()
    assert not supports(first, SupportsSendfile)
    second = Late()
    second.sendfile = lambda *args: 0  # type: ignore[attr-defined]
    assert isinstance(second, SupportsSendfile)
    assert not supports(second, SupportsSendfile)
