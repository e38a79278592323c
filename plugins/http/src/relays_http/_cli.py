"""The ``relays serve`` and ``relays demo`` commands.

``serve`` loads ``module:factory``, puts it under a :class:`~relays_http.Server`
and runs it until SIGINT or SIGTERM, which stop it gracefully (connections finish
their responses). With ``--workers N`` the parent process opens N sockets listening
on the port with ``SO_REUSEPORT`` (so the kernel spreads connections across them),
then supervises N forked workers that each accept from one of them: it restarts
those that die, reloads them on SIGHUP and stops them on SIGTERM (see
:mod:`relays_http._supervisor`).
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from typing import Any

import attrs

from relays import BaseComponent, Component, Config, handler, load_app
from relays.transports import parse_address
from relays_sockets import inherited_socket, systemd_listen_fds

from ._controllers import BaseController
from ._limits import Limits
from ._reload import check_reload, is_reload_child, run_reloader
from ._servers import DEFAULT_BIND, DEFAULT_SHUTDOWN_TIMEOUT, BaseServer, BindError, Server
from ._supervisor import WORKER_BOOT_FAILED, Supervisor, WorkerLink

__all__ = ["add_commands", "build_server", "serve"]

#: The exit status of ``relays serve`` (and ``demo``) when the server cannot listen.
EXIT_CANNOT_LISTEN = 1
#: Seconds a stopping worker gets beyond ``--shutdown-timeout`` before it is killed.
WORKER_STOP_MARGIN = 5.0

#: Help for the limit options; every field of :class:`Limits` becomes an option.
_LIMIT_HELP = {
    "max_request_line": "longest request line in bytes [414]",
    "max_header_size": "longest header line in bytes [431]",
    "max_header_count": "most header fields per request [431]",
    "max_head_size": "largest request head in bytes [431]",
    "max_body_size": "largest request body in bytes [413]",
    "max_chunk_line": "longest chunk-size line in bytes [400]",
    "max_trailer_size": "largest trailer section in bytes [431]",
    "header_timeout": "seconds to receive a request head [408]",
    "keep_alive_timeout": "seconds an idle keep-alive connection stays open",
    "body_timeout": "seconds allowed between two reads of a body [408]",
    "max_connections": "open connections per worker before new ones get a 503",
    "spool_threshold": "body and upload bytes kept in memory before spooling to disk",
    "stream_read_ahead": "body bytes read ahead of a handler streaming them",
    "max_form_fields": "most fields in a form [413]",
    "max_form_field_size": "largest form field value in bytes [413]",
    "max_part_head_size": "largest header section of a multipart part [400]",
    "min_request_body_rate": "slowest request body in bytes/s after the grace period, 0: off",
    "min_response_rate": "slowest reader in bytes/s after the grace period, 0: off",
    "data_rate_grace_period": "seconds before the data rates are checked",
    "shed_after": "seconds a request head is spared when connections are shed at the cap",
}


def add_commands(commands: Any) -> None:
    """Add ``serve`` and ``demo`` to the ``relays`` command line."""
    serve_parser = commands.add_parser(
        "serve",
        help="serve an HTTP application",
        description="Put the app's components under an HTTP server and run it.",
    )
    serve_parser.add_argument(
        "target",
        metavar="module:factory",
        nargs="?",
        help="the components that answer requests (none: only what plugins add, such as"
        " relays-static's --static)",
    )
    _add_server_options(serve_parser)
    serve_parser.set_defaults(handler=_serve_command)

    demo_parser = commands.add_parser(
        "demo",
        help="serve the relays-http demo site",
        description="Serve the demo site: one page for each part of relays, with its code.",
    )
    _add_server_options(demo_parser)
    demo_parser.set_defaults(handler=_demo_command, target="relays_http._demo:make_demo")


def _add_server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bind",
        default=None,
        help="address to listen on: tcp://host:port, tls://..., unix:///path, unix:@name "
        "(Linux abstract socket), fd://N (an inherited listening socket) (default: the "
        f"socket systemd passed, if any, else {DEFAULT_BIND})",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="processes sharing the port (default 1)"
    )
    parser.add_argument(
        "--reload",
        action="store_true",
        help="restart when a .py file under the current directory or the app's folder changes"
        " (development only; needs relays-http[reload])",
    )
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks in 500 pages (never in production)"
    )
    parser.add_argument("--certfile", help="TLS certificate chain (PEM); turns TLS on")
    parser.add_argument("--keyfile", help="TLS private key (PEM)")
    parser.add_argument(
        "--uvloop", action="store_true", default=None, help="run on uvloop (installed separately)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        metavar="N",
        help="run plain (blocking) controller pages in a pool of N threads (default: on the"
        " event loop; a class or page can still choose)",
    )
    parser.add_argument(
        "--shutdown-timeout",
        type=_seconds,
        default=DEFAULT_SHUTDOWN_TIMEOUT,
        metavar="SECONDS",
        help="on stop, how long responses in flight may take to finish before they are cut"
        f" short (default {DEFAULT_SHUTDOWN_TIMEOUT:g})",
    )
    limits = parser.add_argument_group("limits")
    for field in attrs.fields(Limits):
        kind = float if field.type in (float, "float") else int
        limits.add_argument(
            f"--{field.name.replace('_', '-')}",
            dest=field.name,
            type=kind,
            default=None,
            metavar="SECONDS" if kind is float else "N",
            help=f"{_LIMIT_HELP.get(field.name, field.name)} (default {field.default})",
        )


def _seconds(text: str) -> float:
    """A number of seconds, 0 or more, for argparse."""
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not seconds >= 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(f"give 0 or more seconds, not {text!r}")
    return seconds


def _limits(options: argparse.Namespace) -> Limits:
    overrides = {
        field.name: getattr(options, field.name)
        for field in attrs.fields(Limits)
        if getattr(options, field.name, None) is not None
    }
    return Limits(**overrides)


class _Announce(BaseComponent):
    """Prints where the server listens, once it does."""

    def __init__(self, server: BaseServer, quiet: bool) -> None:
        super().__init__(channel=server.channel)
        self.server = server
        self.quiet = quiet

    @handler("ready")
    def _ready(self, transport: Any, address: Any) -> None:
        if transport is self.server.transport and not self.quiet:
            where = self.server.url or _shown_path(address)
            print(f"relays: serving on {where} (Ctrl+C to stop)", flush=True)


def _socket_url(listening: socket.socket, secure: bool) -> str:
    """Where a listening socket serves, as the startup line says it."""
    name = listening.getsockname()
    if listening.family == socket.AF_UNIX:
        if isinstance(name, bytes):  # abstract
            name = "@" + name[1:].decode(errors="replace")
        return _shown_path(name)
    host, port = name[0], name[1]
    host = "127.0.0.1" if host in ("0.0.0.0", "") else "[::1]" if host == "::" else host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{'https' if secure else 'http'}://{host}:{port}/"


def _shown_path(address: Any) -> str:
    """A UNIX socket's address as ``--bind`` takes it: ``unix:///run/app.sock``,
    ``unix:@name`` for the abstract namespace."""
    if isinstance(address, str):
        return f"unix:{address}" if address.startswith("@") else f"unix://{address}"
    return str(address)


def build_server(
    app: BaseComponent, options: argparse.Namespace, bind: Any = None, *, quiet: bool = False
) -> Server:
    """*app* under a :class:`Server` configured from the command-line *options*."""
    if any(isinstance(component, BaseServer) for component in app.walk()):
        raise ValueError(
            "the app already holds an HTTP server; give serve the components that answer "
            "requests, or run the whole tree with 'relays run'"
        )
    transport_options: dict[str, Any] = {}
    if options.certfile or options.keyfile:
        transport_options.update(certfile=options.certfile, keyfile=options.keyfile)
    server = Server(
        (options.bind or default_bind()) if bind is None else bind,
        limits=_limits(options),
        debug=options.debug,
        shutdown_timeout=getattr(options, "shutdown_timeout", DEFAULT_SHUTDOWN_TIMEOUT),
        **transport_options,
    )
    threads = getattr(options, "threads", 0)
    if threads:
        server.handler_threads = threads
    server += app
    server += _Announce(server, quiet)
    return server


def _use_threads(options: argparse.Namespace) -> None:
    """``--threads N``: pages run in threads unless their class or page says otherwise
    (set before the app's classes are made: they take the default then)."""
    threads = getattr(options, "threads", 0)
    if threads < 0:
        raise ValueError(f"--threads must be 0 (off) or more, not {threads}")
    if threads:
        BaseController.thread = True


def _reloading(config: Config) -> bool:
    """Whether this process should watch files and run the server in a child instead."""
    if not getattr(config.options, "reload", False) or is_reload_child():
        return False
    check_reload(config.options.workers)
    return True


def _reload(config: Config) -> int:
    """Watch and restart: the child gets this process's own command line (``sys.argv``)."""
    options = config.options
    return run_reloader(sys.argv[1:], options.bind or default_bind(), options.target)


def _serve_command(config: Config) -> int:
    if _reloading(config):
        return _reload(config)
    _use_threads(config.options)
    target = config.options.target
    return serve(config, load_app(target) if target else Component())


def _demo_command(config: Config) -> int:
    if _reloading(config):
        return _reload(config)
    _use_threads(config.options)
    from ._demo import make_demo

    return serve(config, make_demo())


def default_bind() -> str:
    """Where ``relays serve`` listens without ``--bind``: the first socket systemd passed
    (socket activation: ``LISTEN_FDS`` for this process), else :data:`DEFAULT_BIND`."""
    passed = systemd_listen_fds()
    return f"fd://{passed[0]}" if passed else DEFAULT_BIND


def serve(config: Config, app: BaseComponent) -> int:
    """Run *app* as the command line says: in this process, or in ``--workers`` forks."""
    options = config.options
    if options.bind is None:
        options.bind = default_bind()
    _limits(options)  # refuse bad limits before forking
    if options.workers < 1:
        raise ValueError(f"--workers must be at least 1, not {options.workers}")
    try:
        if options.workers == 1:
            server = build_server(app, options)
            config.plugin_manager.hook.relays_app_created(app=server, config=config)
            server.run(use_uvloop=options.uvloop)
            return 0
        return _run_workers(config, app)
    except BindError as error:
        print(f"relays {config.command}: error: {error}", file=sys.stderr, flush=True)
        return EXIT_CANNOT_LISTEN


def _probe_port(family: socket.AddressFamily, host: str, port: int, bind: Any) -> int:
    """The port to serve on, checked free: raises :class:`BindError` when it is not.

    Bound without ``SO_REUSEPORT``, so that a port another server shares with
    ``SO_REUSEPORT`` (an earlier ``relays serve --workers`` still running, say) counts
    as taken instead of being joined; the real port when 0 was asked.
    """
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise BindError(bind, error) from None
        return int(probe.getsockname()[1])


def _listening_sockets(
    family: socket.AddressFamily, host: str, port: int, count: int, bind: Any
) -> list[socket.socket]:
    """*count* sockets listening on one port with ``SO_REUSEPORT``, one per worker slot.

    The supervisor opens them and keeps them open (see :mod:`relays_http._supervisor`,
    "Why slots"): a worker that stops closes only its own descriptor, so the
    connections queued on its socket wait for the next worker of its slot instead of
    being reset by the system.
    """
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            listening = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(listening)
            listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            listening.bind((host, port))
            listening.listen(socket.SOMAXCONN)
    except OSError as error:
        for listening in sockets:
            listening.close()
        raise BindError(bind, error) from None
    return sockets


def _run_workers(config: Config, app: BaseComponent) -> int:
    """Serve with ``--workers N`` supervised processes (see :mod:`relays_http._supervisor`)."""
    options = config.options
    scheme, address = parse_address(options.bind)
    secure = scheme == "tls" or bool(options.certfile)
    if scheme == "fd":
        # One inherited socket (systemd, a parent): every worker accepts from it.
        inherited = inherited_socket(options.bind)
        listening = [inherited] * options.workers
        where = _socket_url(inherited, secure)
    else:
        if scheme not in ("tcp", "tcp4", "tcp6", "tls") or not hasattr(socket, "SO_REUSEPORT"):
            raise ValueError(
                "--workers needs a TCP or TLS address and SO_REUSEPORT (Linux, BSD), or an "
                "inherited socket (fd://N)"
            )
        host, port = address
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        port = _probe_port(family, host, port, options.bind)
        listening = _listening_sockets(family, host, port, options.workers, options.bind)
        where = _socket_url(listening[0], secure)

    def close_others(slot: int) -> None:
        for other in listening:
            if other is not listening[slot]:
                other.close()

    def work(slot: int, ready_fd: int, alive_fd: int) -> int:
        # In a fresh worker process: the app under a server on its slot's socket,
        # linked to the supervisor.
        close_others(slot)
        try:
            server = build_server(app, options, listening[slot], quiet=True)
            config.plugin_manager.hook.relays_app_created(app=server, config=config)
            server += WorkerLink(server, ready_fd, alive_fd)
            server.run(use_uvloop=options.uvloop)
        except BindError as error:
            print(f"relays {config.command}: error: {error}", file=sys.stderr, flush=True)
            return WORKER_BOOT_FAILED
        return 0

    def announce() -> None:
        print(
            f"relays: serving on {where} with {options.workers} workers "
            f"(pid {os.getpid()}; Ctrl+C to stop, SIGHUP to reload)",
            flush=True,
        )

    supervisor = Supervisor(
        options.workers,
        work,
        stop_timeout=options.shutdown_timeout + WORKER_STOP_MARGIN,
        on_ready=announce,
    )
    try:
        return supervisor.run()
    finally:
        for each in listening:
            each.close()
