"""Generator handlers: circuits' ``yield self.call(...)`` / ``yield self.wait(...)`` style."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Generator
from typing import Any

import pytest

from relays import BaseComponent, Component, Event, Value, handler
from relays.testing import Recorder


class Hello(Event):
    """hello()"""


class Go(Event):
    """go()"""


class Fails(Event):
    """fails()"""


class Other(Event):
    """other()"""


class Greeter(Component):
    def hello(self) -> str:
        return "Hello World!"

    def fails(self) -> None:
        raise ValueError("no luck")


async def run(app: BaseComponent, event: Event) -> Any:
    async with app:
        return await app.call(event)


async def test_yielding_a_call_resumes_with_the_called_events_value() -> None:
    seen: list[Any] = []

    class App(Greeter):
        def go(self) -> Generator[Any, Any, None]:
            value = yield self.call(Hello())
            seen.append(value)

    assert await run(App(), Go()) is None
    [value] = seen
    assert isinstance(value, Value)
    assert value.done
    assert value.result == "Hello World!"


async def test_a_call_that_failed_resumes_with_its_value_holding_the_error() -> None:
    seen: list[Any] = []

    class App(Greeter):
        def go(self) -> Generator[Any, Any, None]:
            seen.append((yield self.call(Fails())))

        def exception(self, *args: Any, **kwargs: Any) -> None:
            pass  # reported, as expected

    await run(App(), Go())
    [value] = seen
    assert value.errors
    assert isinstance(value.result, ValueError)


async def test_yielded_values_and_the_returned_one_are_the_events_results() -> None:
    class One(Component):
        def go(self) -> Generator[Any, Any, int]:
            yield 1
            return 2

    class Only(Component):
        def go(self) -> Generator[Any, Any, None]:
            yield "only"

    assert await run(One(), Go()) == [1, 2]
    assert await run(Only(), Go()) == "only"


async def test_yielding_a_wait_resumes_with_the_waited_events_result() -> None:
    seen: list[Any] = []

    class App(Greeter):
        def go(self) -> Generator[Any, Any, None]:
            self.fire(Hello())
            seen.append((yield self.wait("hello")))

    await run(App(), Go())
    assert seen == ["Hello World!"]


async def test_a_wait_that_times_out_raises_inside_the_generator_where_it_can_be_caught() -> None:
    class App(Component):
        def go(self) -> Generator[Any, Any, str]:
            try:
                yield self.wait("never", timeout=0)
            except TimeoutError as error:
                return f"gave up: {error}"
            return "waited"

    assert (await run(App(), Go())).startswith("gave up: no 'never' event finished")


async def test_a_bare_yield_gives_way_to_events_fired_before_it() -> None:
    order: list[str] = []

    class App(Component):
        def go(self) -> Generator[Any, Any, None]:
            self.fire(Other())
            order.append("before")
            yield
            order.append("after")

        def other(self) -> None:
            order.append("other")

    await run(App(), Go())
    assert order == ["before", "other", "after"]


async def test_a_yielded_generator_runs_as_a_sub_generator_and_gives_its_return_value() -> None:
    class App(Greeter):
        def twice(self, name: str) -> Generator[Any, Any, str]:
            first = yield self.call(Event.create(name))
            second = yield self.call(Event.create(name))
            return f"{first.result} {second.result}"

        @handler(False)
        def greet_twice(self) -> Generator[Any, Any, str]:
            return (yield from self.twice("hello"))

        def go(self) -> Generator[Any, Any, None]:
            both = yield self.greet_twice()
            yield both.upper()

    assert await run(App(), Go()) == "HELLO WORLD! HELLO WORLD!"


async def test_an_error_in_a_sub_generator_reaches_its_caller_at_the_yield() -> None:
    class App(Component):
        @handler(False)
        def broken(self) -> Generator[Any, Any, None]:
            yield
            raise KeyError("inner")

        def go(self) -> Generator[Any, Any, str]:
            try:
                yield self.broken()
            except KeyError:
                return "caught"
            return "not raised"

    assert await run(App(), Go()) == "caught"


async def test_an_error_raised_by_a_generator_handler_is_reported_and_fails_the_call() -> None:
    class App(Component):
        def go(self) -> Generator[Any, Any, None]:
            yield
            raise RuntimeError("broken")

    app = App()
    recorder = Recorder().register(app)

    async with app:
        with pytest.raises(RuntimeError, match="broken"):
            await app.call(Go())
        [report] = await recorder.until("exception")
        assert isinstance(report.args[1], RuntimeError)


async def test_a_generator_handler_taking_the_event_gets_it() -> None:
    class App(Component):
        def go(self, event: Event, word: str) -> Generator[Any, Any, None]:
            yield f"{event.name}:{word}"

    assert await run(App(), Go("now")) == "go:now"


async def test_a_generator_handler_still_running_when_the_tree_stops_is_closed() -> None:
    closed = asyncio.Event()
    started = asyncio.Event()

    class App(Component):
        def go(self) -> Generator[Any, Any, None]:
            try:
                started.set()
                yield self.wait("never")
            finally:
                closed.set()

    app = App()
    async with app:
        app.fire(Go())
        await started.wait()
    await closed.wait()


async def test_an_async_generator_handler_is_not_driven_its_value_is_the_iterator() -> None:
    """relays-http streams a page written as an async generator: the kernel leaves it be."""

    class App(Component):
        @handler("go")
        async def go(self) -> AsyncGenerator[int, None]:
            yield 1
            yield 2

    value = await run(App(), Go())
    assert [item async for item in value] == [1, 2]


async def test_reading_circuits_value_attribute_names_the_relays_one() -> None:
    class App(Greeter):
        pass

    value = await run(App(), Hello())
    assert value == "Hello World!"
    with pytest.raises(AttributeError, match=r"read \.result"):
        Value(Hello()).value  # noqa: B018 - the attribute read is the test
