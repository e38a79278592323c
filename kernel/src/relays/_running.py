"""Running a component tree: on its own loop, in a thread, or inside asyncio code.

Every way of running ends in :func:`run_async`: attach the tree's hub to the running
loop, fire ``started``, wait for a stop request, fire ``stopped`` and let its handlers
finish, cancel handler tasks still running, detach. Stop requests arrive through one
future, set from the loop's thread (``call_soon_threadsafe`` from anywhere else), so
stopping is safe from signal handlers, other threads and handlers alike. While it runs,
the loop is watched for handlers that block it (:mod:`relays._watchdog`).

The heap after start-up. A server builds most of its long-lived objects while it starts
(modules, routes, components, the listening sockets' state). Python's cycle collector
would walk all of them again in every full collection: measured under ``Connection:
close`` load, a full pass took 9-13 ms every ~5 s, the tail of the latency figures. So
:func:`run`, which owns the process, freezes the heap once the ``started`` handlers have
all finished (servers listen by then): one ``gc.collect()`` so that start-up garbage is
not kept, then ``gc.freeze()``, which moves every object alive into a generation the
collector never scans. Objects made afterwards (requests, connections) are collected as
usual; a frozen object that later dies is freed by its reference count as ever, only a
frozen *cycle* stays (start-up rarely leaves one). ``run(freeze_gc=False)`` or
``RELAYS_GC_FREEZE=0`` turns it off. It happens only when ``run`` is called on the main
thread; :func:`start` (a thread) and ``async with`` never freeze: there the host
program owns the process and its collector.

In a child process. ``start(process=True, link=parent)`` (:func:`start_process`) runs
nothing itself: the kernel knows no way to reach another process, so it asks the
plugins (the ``relays_start_process`` hook) for a component that runs the subtree in a
child and carries events across, and names what to install when none answers. The
instance it was called on stays in this process as the child's proxy: its handlers are
taken out of its hub (the child's copy runs them; here they would run twice), it is
registered under *parent* with the plugin's link below it, so what it fires goes into
the parent's tree and across, and :func:`stop` takes both out of the tree, which stops
the child, and gives the handlers back: the instance is a plain component again.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import threading
from typing import TYPE_CHECKING, Any

from ._events import Signal, Started, Stopped
from ._watchdog import blocked_loop_threshold, watchdog

if TYPE_CHECKING:
    from ._components import BaseComponent
    from ._handlers import Handler

__all__ = [
    "Runner",
    "enter",
    "freeze_gc_wanted",
    "freeze_heap",
    "leave",
    "run",
    "run_async",
    "start",
    "start_process",
    "stop",
]

#: Seconds ``stopped`` handlers get to finish before the tree is torn down anyway.
STOP_TIMEOUT = 10.0


class Runner:
    """How one root is being run: its loop, stop future, and thread or task."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop_future: asyncio.Future[None] | None = None
        self.thread: threading.Thread | None = None
        self.task: asyncio.Task[None] | None = None
        self.ready = threading.Event()
        self.ready_future: asyncio.Future[None] | None = None
        self.error: BaseException | None = None
        #: The exit code ``stop(code)`` or a handler's ``SystemExit(code)`` asked for;
        #: :func:`run` ends the process with it once the tree has stopped.
        self.exit_code: int | str | None = None
        #: Set when the component runs in a child process (:func:`start_process`).
        self.child: ChildProcess | None = None


class ChildProcess:
    """A component started with ``process=True``: the link a plugin made for it, and
    the component's own handlers, kept out of the parent's tree until it stops."""

    def __init__(self, link: BaseComponent, handlers: list[Handler]) -> None:
        self.link = link
        self.handlers = handlers


def _require_root(component: BaseComponent) -> None:
    runner = component._runner
    if runner is not None and runner.child is not None:
        raise RuntimeError(f"{component!r} already runs in a child process: stop() it first")
    if component.parent is not None:
        raise RuntimeError(f"only a root component can be run; {component!r} has a parent")


def new_event_loop(use_uvloop: bool | None = None) -> asyncio.AbstractEventLoop:
    """A fresh event loop: uvloop's when it is installed, unless told otherwise.

    *use_uvloop* decides when given: True asks for uvloop (an error says how to install
    it when missing), False for asyncio's own loop. Left at None, the environment
    variable ``RELAYS_UVLOOP`` decides when set (``0`` for asyncio's loop, anything
    else for uvloop); when it is unset or empty, uvloop is used if it can be imported
    and asyncio's loop otherwise, as uvicorn's ``--loop auto`` does. With relays-sockets'
    own transport, which it uses on both loops, relays-http on uvloop serves more
    requests per second than on asyncio's loop with keep-alive and with short
    ``Connection: close`` connections alike: the design page ("Which event loop") has the
    figures. Nothing in relays depends on which loop runs it.
    """
    if use_uvloop is None:
        choice = os.environ.get("RELAYS_UVLOOP", "")
        if choice == "":
            return _uvloop_or_asyncio()
        use_uvloop = choice != "0"
    if use_uvloop:
        try:
            import uvloop  # type: ignore[import-not-found, unused-ignore]
        except ImportError:
            raise RuntimeError(
                "uvloop was asked for but is not installed: pip install 'relays[uvloop]'"
            ) from None
        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
        return loop
    return asyncio.new_event_loop()


def _uvloop_or_asyncio() -> asyncio.AbstractEventLoop:
    try:
        import uvloop  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def freeze_gc_wanted(freeze_gc: bool | None) -> bool:
    """Whether :func:`run` freezes the heap after start-up: *freeze_gc* when given, else
    the environment variable ``RELAYS_GC_FREEZE`` (``0`` turns it off), else yes."""
    if freeze_gc is not None:
        return freeze_gc
    return os.environ.get("RELAYS_GC_FREEZE", "") != "0"


def freeze_heap() -> None:
    """Collect start-up garbage, then move every object alive out of the collector's
    sight (see the module's docstring)."""
    gc.collect()
    gc.freeze()


def run(
    component: BaseComponent,
    *,
    use_uvloop: bool | None = None,
    freeze_gc: bool | None = None,
) -> None:
    _require_root(component)
    # Only the program's main thread owns the process's collector (``start()`` runs
    # this in a thread of a host program: never there).
    main = threading.current_thread() is threading.main_thread()
    freeze = main and freeze_gc_wanted(freeze_gc)
    exit_codes: list[int | str | None] = []
    with asyncio.Runner(loop_factory=lambda: new_event_loop(use_uvloop)) as runner:
        runner.run(run_async(component, signals=True, freeze_gc=freeze, exit_codes=exit_codes))
    if exit_codes and exit_codes[0] is not None:
        raise SystemExit(exit_codes[0])


async def run_async(
    component: BaseComponent,
    *,
    signals: bool = False,
    freeze_gc: bool = False,
    exit_codes: list[int | str | None] | None = None,
) -> None:
    _require_root(component)
    loop = asyncio.get_running_loop()
    runner = component._runner
    if runner is None or runner.loop is not None:
        if runner is not None:
            raise RuntimeError(f"{component!r} is already running")
        runner = component._runner = Runner()
    runner.loop = loop
    runner.stop_future = loop.create_future()
    hub = component._hub
    hub.attach(loop)
    installed = _install_signal_handlers(component, loop) if signals else []
    threshold = blocked_loop_threshold(component.blocked_loop_threshold)
    if threshold is not None:
        watchdog.watch(loop, threshold)
    try:
        started = component.fire(Started(component), "*")
        if freeze_gc:
            started.add_done_callback(lambda _value: freeze_heap())
        runner.ready.set()
        if runner.ready_future is not None and not runner.ready_future.done():
            runner.ready_future.set_result(None)
        await runner.stop_future
    finally:
        stopped = component.fire(Stopped(component), "*")
        # A failing stopped handler was reported as an exception event already.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(stopped.future(), STOP_TIMEOUT)
        await hub.cancel_tasks()
        for signo in installed:
            loop.remove_signal_handler(signo)
        if threshold is not None:
            watchdog.unwatch(loop)
        hub.detach()
        component._runner = None
        if exit_codes is not None:
            exit_codes.append(runner.exit_code)


def _install_signal_handlers(
    component: BaseComponent, loop: asyncio.AbstractEventLoop
) -> list[int]:
    if threading.current_thread() is not threading.main_thread():
        return []
    installed: list[int] = []
    for signo in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signo, _on_signal, component, signo)
        except (NotImplementedError, RuntimeError, ValueError):
            continue
        installed.append(signo)
    return installed


def _on_signal(component: BaseComponent, signo: int) -> None:
    value = component.fire(Signal(signo, None), "*")
    value.add_done_callback(lambda _value: _request_stop(component))


def _request_stop(component: BaseComponent, code: int | str | None = None) -> None:
    runner = component._runner
    if runner is not None and runner.stop_future is not None and not runner.stop_future.done():
        runner.exit_code = code
        runner.stop_future.set_result(None)


def start(component: BaseComponent) -> threading.Thread:
    _require_root(component)
    if component._runner is not None:
        raise RuntimeError(f"{component!r} is already running")
    runner = component._runner = Runner()

    def main() -> None:
        try:
            run(component)
        except BaseException as error:  # reported to start() or kept for stop()
            runner.error = error
            runner.ready.set()

    thread = runner.thread = threading.Thread(
        target=main, name=f"relays-{component.name}", daemon=True
    )
    thread.start()
    runner.ready.wait()
    if runner.error is not None:
        component._runner = None
        raise runner.error
    return thread


def start_process(
    component: BaseComponent, link: BaseComponent, options: dict[str, Any]
) -> BaseComponent:
    """Run *component*'s subtree in a child process linked to *link*'s tree, through
    the plugin that answers ``relays_start_process``; returns the plugin's link."""
    from ._components import BaseComponent
    from ._plugins import PluginNotFound, plugin_manager

    _require_root(component)
    if component._runner is not None:
        raise RuntimeError(f"{component!r} is already running")
    if not isinstance(link, BaseComponent):
        raise TypeError(f"start(link=...) takes the component to link to, not {link!r}")
    if any(node is link for node in component.walk()):
        raise ValueError(
            f"link={link!r} is in the subtree of {component!r}, which is to run in the "
            "child: link it to a component of the tree that stays here"
        )
    made: BaseComponent | None = plugin_manager().hook.relays_start_process(
        component=component, link=link, options=dict(options)
    )
    if made is None:
        missing = PluginNotFound("process link", "pipe")
        missing.add_note(
            "start(process=True) runs a subtree in a child process through a plugin "
            "that implements the relays_start_process hook"
        )
        raise missing
    handlers = component._hub.remove_handlers(set(component.walk()))
    try:
        component.register(link)
        made.register(component)
    except BaseException:
        component._leave()
        component._hub.add_handlers(handlers)
        raise
    runner = component._runner = Runner()
    runner.child = ChildProcess(made, handlers)
    return made


def _stop_child(component: BaseComponent, done: threading.Event | None = None) -> None:
    """Take a child's proxy and link out of the parent's tree (the link stops the
    child when it leaves) and give the proxy its handlers back."""
    try:
        runner = component._runner
        child = runner.child if runner is not None else None
        if child is None:
            return
        # Not unregister(): its two steps let a leaving component finish its work, and
        # the link and the proxy have none here (the link's own ending is the child's).
        child.link._leave()
        component._leave()
        component._hub.add_handlers(child.handlers)
        component._runner = None
    finally:
        if done is not None:
            done.set()


def stop(component: BaseComponent, timeout: float | None, code: int | str | None = None) -> None:
    runner = component._runner
    if runner is not None and runner.child is not None:
        loop = component._hub.loop
        if loop is None or component._hub.thread_id == threading.get_ident():
            _stop_child(component)
            return
        left = threading.Event()
        try:
            loop.call_soon_threadsafe(_stop_child, component, left)
        except RuntimeError:
            _stop_child(component)  # the loop closed meanwhile: nothing runs the tree
            return
        left.wait(timeout)
        return
    root = component.root
    runner = root._runner
    if runner is None or runner.loop is None:
        return
    if root._hub.thread_id == threading.get_ident():
        _request_stop(root, code)
        return
    try:
        runner.loop.call_soon_threadsafe(_request_stop, root, code)
    except RuntimeError:
        return  # the loop closed meanwhile
    thread = runner.thread
    if thread is not None and thread is not threading.current_thread():
        thread.join(timeout)


async def enter(component: BaseComponent) -> None:
    _require_root(component)
    if component._runner is not None:
        raise RuntimeError(f"{component!r} is already running")
    runner = component._runner = Runner()
    runner.ready_future = asyncio.get_running_loop().create_future()
    runner.task = asyncio.create_task(run_async(component))
    ready = runner.ready_future
    await asyncio.wait({ready, runner.task}, return_when=asyncio.FIRST_COMPLETED)
    if runner.task.done():
        await runner.task  # it failed to start: raise why


async def leave(component: BaseComponent) -> None:
    runner = component._runner
    if runner is None or runner.task is None:
        return
    task = runner.task
    _request_stop(component)
    await task
