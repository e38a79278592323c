"""relays: components, events and channels on asyncio.

Build an application as a tree of components; components talk by firing events on
channels, and handlers (plain methods, or ``async def``) answer them. Transports,
protocols and dispatchers come from plugins: see :mod:`relays.hookspecs`.
"""

# circuits names relays does not have (Manager, File, ...) raise an error naming the
# replacement, rather than Python's bare "cannot import name" (PEP 562).
from ._caches import BoundedCache
from ._circuits import explain_missing_name as __getattr__  # noqa: F401 - used by Python
from ._components import BaseComponent, Component
from ._config import Config, Provided
from ._debugger import Debugger
from ._dispatch import NOT_DELIVERED
from ._events import (
    Event,
    EventCancelled,
    ExceptionEvent,
    PrepareUnregister,
    Registered,
    Signal,
    Started,
    Stopped,
    Unregistered,
)
from ._graph import GraphNode, GraphvizFailed, GraphvizNotFound, graph
from ._handlers import Handler, handler
from ._loader import Load, Loaded, Loader, LoadError
from ._loading import load_app
from ._plugins import (
    DispatcherPlugin,
    PluginNotFound,
    find_dispatcher,
    find_protocol,
    find_transport,
    plugin_manager,
    register_plugin,
)
from ._priorities import Priority
from ._running import new_event_loop
from ._threads import HANDLER_THREADS, PoolCall, in_thread, run_in_pool
from ._timers import Timer
from ._tools import inspect
from ._tree import findchannel, findcmp, findroot, findtype, flatten
from ._values import Value
from ._version import __version__
from ._watchdog import BLOCKED_LOOP_THRESHOLD
from ._workers import Task, Worker, task

__all__ = [
    "BLOCKED_LOOP_THRESHOLD",
    "HANDLER_THREADS",
    "NOT_DELIVERED",
    "BaseComponent",
    "BoundedCache",
    "Component",
    "Config",
    "Debugger",
    "DispatcherPlugin",
    "Event",
    "EventCancelled",
    "ExceptionEvent",
    "GraphNode",
    "GraphvizFailed",
    "GraphvizNotFound",
    "Handler",
    "Load",
    "LoadError",
    "Loaded",
    "Loader",
    "PluginNotFound",
    "PoolCall",
    "PrepareUnregister",
    "Priority",
    "Provided",
    "Registered",
    "Signal",
    "Started",
    "Stopped",
    "Task",
    "Timer",
    "Unregistered",
    "Value",
    "Worker",
    "__version__",
    "find_dispatcher",
    "find_protocol",
    "find_transport",
    "findchannel",
    "findcmp",
    "findroot",
    "findtype",
    "flatten",
    "graph",
    "handler",
    "in_thread",
    "inspect",
    "load_app",
    "new_event_loop",
    "plugin_manager",
    "register_plugin",
    "run_in_pool",
    "task",
]
