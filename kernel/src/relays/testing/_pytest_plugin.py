"""The pytest plugin: run ``async def`` tests, start and stop root components.

Loaded through the ``pytest11`` entry point. Coroutine tests run on a fresh loop
made by :func:`relays.new_event_loop` (so ``RELAYS_UVLOOP=1`` tests on uvloop),
unless marked for another async plugin (``asyncio``, ``anyio``, ``trio``). Before
the test, every argument that is a root component not yet running is started on
that loop; after it, they are stopped, whatever the outcome.
"""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import Iterator
from typing import Any

import pytest

from .._components import BaseComponent
from .._running import new_event_loop
from ._examples import RunExample, RunningExample, start_example
from ._helpers import Manager

_OTHER_ASYNC_MARKERS = ("asyncio", "anyio", "trio")

#: Seconds an async test may run before it fails as hung (``relays_timeout`` ini).
DEFAULT_TEST_TIMEOUT = 60.0


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "relays_timeout",
        "seconds an async test may run before relays fails it as hung",
        default=str(DEFAULT_TEST_TIMEOUT),
    )


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    function = pyfuncitem.obj
    if not inspect.iscoroutinefunction(function):
        return None
    if any(pyfuncitem.get_closest_marker(name) for name in _OTHER_ASYNC_MARKERS):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    arguments = {name: pyfuncitem.funcargs[name] for name in names}
    timeout = float(pyfuncitem.config.getini("relays_timeout"))
    # Tests run on asyncio's loop unless RELAYS_UVLOOP asks for uvloop: not on whichever
    # happens to be installed (new_event_loop's own default).
    loop = new_event_loop(use_uvloop=os.environ.get("RELAYS_UVLOOP", "") not in ("", "0"))
    try:
        loop.run_until_complete(_run_test(function, arguments, timeout))
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
    return True


async def _run_test(function: Any, arguments: dict[str, Any], timeout: float) -> None:
    roots: list[BaseComponent] = []
    for value in arguments.values():
        is_root = isinstance(value, BaseComponent) and value.parent is None
        if is_root and not value.running and all(value is not root for root in roots):
            roots.append(value)
    started = []
    try:
        for root in roots:
            await root.__aenter__()
            started.append(root)
        await asyncio.wait_for(function(**arguments), timeout)
    finally:
        for root in reversed(started):
            await root.__aexit__(None, None, None)


@pytest.fixture
def manager(request: pytest.FixtureRequest) -> Iterator[Manager]:
    """A root component, running for the test on a fresh loop.

    ``async def`` tests get it running on their own loop. Plain tests get it running
    in a background thread; fire events at it and block on ``value.get(timeout)``.
    """
    root = Manager()
    if inspect.iscoroutinefunction(getattr(request, "function", None)):
        yield root
        return
    root.start()
    try:
        yield root
    finally:
        root.stop()


@pytest.fixture
def run_example() -> Iterator[RunExample]:
    """Start example programs: ``run_example(program, *arguments, ports=1, ...)``.

    It takes :func:`~relays.testing.start_example`'s arguments and returns once the program
    listens. Every example still running when the test ends is stopped by its process id
    (SIGTERM) and must end cleanly, or the test errors; a test that reads its stderr calls
    :meth:`~relays.testing.RunningExample.stop` itself.
    """
    started: list[RunningExample] = []

    def run(program: str | os.PathLike[str], *arguments: str, **options: Any) -> RunningExample:
        example = start_example(program, *arguments, **options)
        started.append(example)
        return example

    yield run
    for example in started:
        if example.process.returncode is None:
            example.stop()
