"""A session store of your own, found by its URL scheme through the relays_session_store hook.

A plugin's module holds the hook function, and its entry point in the ``relays`` group makes
relays load it. This program registers itself by hand instead (``relays.register_plugin``),
then opens a store by URL as ``Sessions`` does. Its store keeps sessions in this process's
memory (the built-in ``MemoryStore`` does the work) under a scheme of its own.
"""

import sys
from collections.abc import Callable

import relays
from relays.hookspecs import hookimpl
from relays_sessions import MemoryStore, open_store


class DictStore(MemoryStore):
    """A stand-in for a store of your own: one for memcached, say."""


@hookimpl
def relays_session_store(scheme: str) -> Callable[[str], MemoryStore] | None:
    if scheme != "dict":
        return None
    return DictStore.from_url


relays.register_plugin(sys.modules[__name__], name="dict-store")
print(type(open_store("dict://")).__name__)
