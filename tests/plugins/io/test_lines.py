"""The line protocol: a sans-IO buffer (properties) and the component on a transport."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relays import find_protocol
from relays.testing import Manager, MemoryTransport, Recorder
from relays.testing.strategies import splits
from relays_io import Line, LineBuffer, LineTooLong

LIMIT = 16
lines_of_text = st.lists(st.binary(max_size=LIMIT).map(lambda b: b.replace(b"\n", b"")))


def feed_all(pieces: list[bytes], limit: int = LIMIT) -> tuple[list[bytes], bool, bytes]:
    """Lines found, whether LineTooLong was raised, and what was left pending."""
    buffer = LineBuffer(max_line_length=limit)
    found: list[bytes] = []
    for piece in pieces:
        try:
            found += buffer.feed(piece)
        except LineTooLong as error:
            return found + error.lines, True, b""
    return found, False, buffer.pending


def test_lines_lose_their_separator_and_a_carriage_return() -> None:
    buffer = LineBuffer()
    assert buffer.feed(b"one\r\ntwo\nthr") == [b"one", b"two"]
    assert buffer.pending == b"thr"
    assert buffer.feed(b"ee\n") == [b"three"]


def test_a_line_over_the_limit_raises_with_the_good_lines_before_it() -> None:
    buffer = LineBuffer(max_line_length=4)
    with pytest.raises(LineTooLong, match="max_line_length=4") as raised:
        buffer.feed(b"ok\n" + b"x" * 5 + b"\n")
    assert raised.value.lines == [b"ok"]
    assert buffer.pending == b""


def test_an_unfinished_line_over_the_limit_raises_before_its_end() -> None:
    buffer = LineBuffer(max_line_length=4)
    buffer.feed(b"1234")
    with pytest.raises(LineTooLong):
        buffer.feed(b"56")


def test_other_separators() -> None:
    buffer = LineBuffer(separator=b"\r\n\r\n", max_line_length=8)
    assert buffer.feed(b"a\r\n\r") == []
    assert buffer.feed(b"\nb\r\n\r\n") == [b"a", b"b"]


@pytest.mark.parametrize("options", [{"separator": b""}, {"max_line_length": 0}])
def test_bad_options_are_refused(options: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"separator|max_line_length"):
        LineBuffer(**options)  # type: ignore[arg-type]


@given(lines_of_text, st.binary(max_size=8).map(lambda b: b.replace(b"\n", b"")), st.data())
def test_any_split_gives_the_same_lines(
    lines: list[bytes], trailing: bytes, data: st.DataObject
) -> None:
    stream = b"".join(line + b"\n" for line in lines) + trailing
    pieces = data.draw(splits(stream))
    whole = feed_all([stream])
    assert feed_all(pieces) == whole
    if not whole[1]:
        assert whole[0] == [line.removesuffix(b"\r") for line in lines]
        assert whole[2] == trailing  # the next line's start is left untouched


@given(st.binary(max_size=200), st.data())
def test_any_input_gives_lines_or_line_too_long_the_same_way_for_any_split(
    stream: bytes, data: st.DataObject
) -> None:
    pieces = data.draw(splits(stream))
    assert feed_all(pieces) == feed_all([stream])


@given(st.lists(st.binary(max_size=12), max_size=6), st.binary(max_size=6), st.data())
def test_a_separator_split_across_reads_is_found(
    lines: list[bytes], trailing: bytes, data: st.DataObject
) -> None:
    separator = b"\r\n\r\n"
    lines = [line.replace(b"\r", b"") for line in lines]
    trailing = trailing.replace(b"\r", b"")
    stream = b"".join(line + separator for line in lines) + trailing

    def feed(pieces: list[bytes]) -> tuple[list[bytes], bytes]:
        buffer = LineBuffer(separator=separator, max_line_length=64)
        found = [line for piece in pieces for line in buffer.feed(piece)]
        return found, buffer.pending

    assert feed(data.draw(splits(stream))) == (lines, trailing)


def test_the_protocol_hook_answers_line() -> None:
    assert find_protocol("line") is Line


async def test_a_server_connection_gets_line_events(manager: Manager) -> None:
    transport = MemoryTransport().register(manager)
    recorder = Recorder().register(manager)
    Line(channel="memory", encoding="utf-8").register(manager)
    client = transport.connect()
    client.send(b"hello\r\nwor")
    client.send(b"ld\n")
    events = await recorder.until("line", 2)
    assert [event.args for event in events] == [
        (client.connection, "hello"),
        (client.connection, "world"),
    ]


async def test_a_long_line_is_an_error_and_closes_the_connection(manager: Manager) -> None:
    transport = MemoryTransport().register(manager)
    recorder = Recorder().register(manager)
    Line(channel="memory", max_line_length=4).register(manager)
    client = transport.connect()
    client.send(b"ok\nmuch too long")
    [error] = await recorder.until("error")
    assert error.args[0] is client.connection
    assert isinstance(error.args[1], LineTooLong)
    assert [event.args[1] for event in recorder.named("line")] == [b"ok"]
    assert client.closed
