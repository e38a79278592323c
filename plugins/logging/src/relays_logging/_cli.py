"""The logging options of ``relays serve`` and ``relays demo``.

``relays_add_options`` adds them, ``relays_configure`` turns them into stdlib
handlers before the command runs (so the parent of ``--workers`` forks sets them
up once and every worker inherits them), and ``relays_app_created`` registers the
access and error logs into the server the command built.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import logging.handlers
import os
import sys
from pathlib import Path
from typing import Any

from relays import BaseComponent, Config

from ._ratelimit import RepeatFilter

__all__ = ["COMMANDS", "add_options", "app_created", "configure"]

#: The commands that get the options: relays-http's servers.
COMMANDS = ("serve", "demo")

_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

#: Handlers installed by :func:`configure`, by logger name, so configuring twice
#: (tests, a reload) replaces them instead of doubling every line.
_installed: dict[str, logging.Handler] = {}
#: The repeat filter of each handler :func:`configure` installed, by logger name: the
#: error log writes their pending counts when the server stops.
_repeat_filters: dict[str, RepeatFilter] = {}


def _destination(text: str) -> str:
    """``--access-log``: ``-`` or a file we can open for appending; checked while
    parsing, so a typo is a usage error (exit 2) rather than a traceback later."""
    if text == "-":
        return text
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a directory; give a file path")
    folder = path.parent
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"the folder of {text!r} does not exist; create it")
    if not os.access(path if path.exists() else folder, os.W_OK):
        raise argparse.ArgumentTypeError(f"{text!r} is not writable by this user")
    return text


def _network(text: str) -> str:
    """``--trusted-proxy``: an IP address or CIDR block."""
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an IP address or network (like 10.0.0.0/8 or ::1)"
        ) from None
    return text


def add_options(command: str, parser: argparse.ArgumentParser) -> None:
    if command not in COMMANDS:
        return
    group = parser.add_argument_group("logging (relays-logging)")
    group.add_argument(
        "--access-log",
        metavar="-|PATH",
        type=_destination,
        default=None,
        help="write an access line per response to stdout (-) or to PATH "
        "(reopened when logrotate moves it); default: no access log",
    )
    group.add_argument(
        "--log-format",
        choices=("combined", "json"),
        default="combined",
        help="access line format: Apache combined plus microseconds, or JSON (default combined)",
    )
    group.add_argument(
        "--log-level",
        type=str.upper,
        choices=_LEVELS,
        default="INFO",
        metavar="LEVEL",
        help="level of the error and server logs on stderr: debug, info, warning, error, "
        "critical (default info)",
    )
    group.add_argument(
        "--trusted-proxy",
        action="append",
        type=_network,
        default=[],
        metavar="ADDRESS",
        help="address or CIDR block of a reverse proxy whose Forwarded and X-Forwarded-* "
        "fields are believed, for the log and the app alike (repeatable)",
    )
    group.add_argument(
        "--log-debug",
        action="store_true",
        help="log every event to the relays.debug logger (the kernel's Debugger); noisy",
    )


def _install(logger: logging.Logger, handler: logging.Handler, format: str) -> None:
    previous = _installed.pop(logger.name, None)
    if previous is not None:
        logger.removeHandler(previous)
        previous.close()
    handler.setFormatter(logging.Formatter(format))
    logger.addHandler(handler)
    _installed[logger.name] = handler


def configure(config: Config) -> None:
    """Set up the stdlib handlers the options ask for."""
    if config.command not in COMMANDS or not hasattr(config.options, "access_log"):
        return
    options = config.options
    server_logger = logging.getLogger("relays")
    server_logger.setLevel(options.log_level)
    if not logging.getLogger().handlers or "relays" in _installed:
        stderr = logging.StreamHandler(sys.stderr)
        # Warnings and errors repeated by kind (a store down, on every request) are
        # written once per interval with a count, so they cannot flood the disk.
        _repeat_filters["relays"] = RepeatFilter(stderr)
        _install(server_logger, stderr, "%(asctime)s %(levelname)s %(name)s: %(message)s")
    if options.log_debug:
        logging.getLogger("relays.debug").setLevel(logging.DEBUG)
    if options.access_log is not None:
        access = logging.getLogger("relays.access")
        access.setLevel(logging.INFO)
        access.propagate = False  # its own destination, not the error log's
        handler: logging.Handler
        if options.access_log == "-":
            handler = logging.StreamHandler(sys.stdout)
        else:
            try:
                handler = logging.handlers.WatchedFileHandler(options.access_log, encoding="utf-8")
            except OSError as error:
                raise ValueError(
                    f"cannot open the access log {options.access_log!r}: {error.strerror}"
                ) from None
        _install(access, handler, "%(message)s")


def app_created(app: BaseComponent, config: Config) -> None:
    """Register the access log, the error log and the debugger the options ask for."""
    if config.command not in COMMANDS or not hasattr(config.options, "access_log"):
        return
    from relays_http import TrustedProxies

    from ._access import AccessLog
    from ._debug import debug_to_logger
    from ._errors import ErrorLog

    options = config.options
    channel: Any = getattr(app, "channel", "web")
    if options.trusted_proxy:
        TrustedProxies(options.trusted_proxy, channel=channel).register(app)
    if options.access_log is not None:
        AccessLog(format=options.log_format, channel=channel).register(app)
    ErrorLog(repeat_filters=list(_repeat_filters.values())).register(app)
    if options.log_debug:
        debug_to_logger(app)
