"""The child process of a :class:`~relays_bridge.ProcessLink`: ``python -m relays_bridge._child``.

Its command line is the inherited pipe's descriptor and a JSON description written by
the parent (see :mod:`._process`): it imports the factory and the event classes by
``module:name``, builds the subtree, registers a :class:`~._process.ChildLink` in it and
runs it until the pipe ends or a signal stops it. Nothing is unpickled.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import socket
import sys
from types import ModuleType
from typing import Any

from ._process import ChildLink
from ._registry import EventRegistry

#: The parent's main script, loaded under this name (as multiprocessing does), so
#: that its ``if __name__ == "__main__":`` block does not run again here.
_MAIN_NAME = "__mp_main__"


def _load_main(path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(_MAIN_NAME, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the parent's main script {path!r}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[_MAIN_NAME] = module
    spec.loader.exec_module(module)
    return module


def _resolve(reference: str, main: ModuleType | None) -> Any:
    module_name, _, qualname = reference.partition(":")
    if module_name == "__main__":
        if main is None:
            raise ImportError(f"{reference!r} is in the parent's __main__, which is not known")
        found: Any = main
    else:
        found = importlib.import_module(module_name)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found


def main(argv: list[str]) -> None:
    descriptor, description = int(argv[1]), json.loads(argv[2])
    sys.path[:0] = [entry for entry in description["sys_path"] if entry not in sys.path]
    main_module = _load_main(description["main_path"]) if description["main_path"] else None
    events = EventRegistry()
    for reference, version in description["events"]:
        events.register(_resolve(reference, main_module), version=version)
    factory = _resolve(description["factory"], main_module)
    arguments = description["arguments"]
    component = factory(*arguments["args"], **arguments["kwargs"])
    link = ChildLink(
        socket.socket(fileno=descriptor),
        channels=description["channels"],
        requests=description["requests"],
        events=events,
        format=description["format"],
        reply_timeout=description["reply_timeout"],
        max_message_size=description["max_message_size"],
        max_in_flight=description["max_in_flight"],
    )
    link.register(component)
    component.run()


if __name__ == "__main__":
    main(sys.argv)
