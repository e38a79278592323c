"""Test helpers for relays applications and plugins.

``relays.testing`` is also a pytest plugin (installed with relays): ``async def``
tests run on a fresh event loop, and every root component an ``async def`` test
receives from a fixture is started on that loop before the test and stopped after
it. The ``manager`` fixture gives such a root (plain tests get it running in a
background thread), and ``run_example`` runs an example program on free ports (see
:func:`start_example`). :class:`MemoryTransport` stands in for sockets, so a
protocol plugin can be tested by feeding it bytes; :mod:`relays.testing.strategies`
has hypothesis strategies for that (install ``relays[testing]``).
"""

from ._examples import ExampleFailed, RunExample, RunningExample, free_port, start_example
from ._helpers import Manager, Recorder, drain, forget_capabilities, wait_for
from ._memory import MemoryClient, MemoryConnection, MemoryTransport

__all__ = [
    "ExampleFailed",
    "Manager",
    "MemoryClient",
    "MemoryConnection",
    "MemoryTransport",
    "Recorder",
    "RunExample",
    "RunningExample",
    "drain",
    "forget_capabilities",
    "free_port",
    "start_example",
    "wait_for",
]
