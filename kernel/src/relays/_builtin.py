"""The kernel's own commands, registered through the same hooks as any plugin."""

from __future__ import annotations

import sys
from typing import Any

from ._config import Config
from ._debugger import Debugger
from ._graph import GraphvizNotFound
from ._graph import graph as render_graph
from ._loading import load_app
from ._plugins import describe_plugins
from .hookspecs import hookimpl


@hookimpl
def relays_add_commands(commands: Any) -> None:
    listing = commands.add_parser("plugins", help="list installed plugins and what they provide")
    listing.set_defaults(handler=_plugins_command)

    run = commands.add_parser("run", help="build a component tree and run it")
    run.add_argument("target", metavar="module:factory", help="the app, or what makes it")
    run.add_argument("--debug", action="store_true", help="add a Debugger to the tree")
    run.add_argument(
        "--uvloop", action="store_true", default=None, help="run on uvloop (installed separately)"
    )
    run.set_defaults(handler=_run_command)

    draw = commands.add_parser("graph", help="print the component tree of an app")
    draw.add_argument("target", metavar="module:factory")
    draw.add_argument("--format", choices=("text", "dot", "svg", "png"), default="text")
    draw.add_argument(
        "--output", "-o", metavar="PATH", help="write to PATH instead of standard output"
    )
    draw.set_defaults(handler=_graph_command)


def _plugins_command(config: Config) -> int:
    rows = describe_plugins()
    if not rows:
        print("No relays plugins are installed. Install what you need, e.g.:")
        print("  pip install relays-sockets relays-http")
        return 0
    table = [("plugin", "distribution", "version", "provides")]
    table += [(r["name"], r["distribution"], r["version"], r["provides"]) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    for row in table:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)).rstrip()
        )
    return 0


def _run_command(config: Config) -> int:
    app = load_app(config.options.target)
    if config.options.debug:
        app += Debugger()
    config.plugin_manager.hook.relays_app_created(app=app, config=config)
    app.run(use_uvloop=config.options.uvloop)
    return 0


def _graph_command(config: Config) -> int:
    options = config.options
    app = load_app(options.target)
    try:
        if options.output is not None:
            render_graph(app, options.format, path=options.output)
        elif options.format == "png":
            sys.stdout.buffer.write(render_graph(app, "png"))
            sys.stdout.buffer.flush()
        else:
            print(render_graph(app, options.format))
    except GraphvizNotFound as error:
        print(f"relays graph: {error}", file=sys.stderr)
        return 1
    return 0
