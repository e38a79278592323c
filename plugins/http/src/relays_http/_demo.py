"""The site ``relays demo`` serves: one page for each part of relays, with its code.

Theory of operation
-------------------
relays-http never imports another plugin, yet the demo shows sessions, JSON-RPC,
static files, WebSockets and the inspector. :func:`make_demo` asks the kernel's
plugin lookup (:func:`relays.find_dispatcher`) for each of those parts; a part
that is installed is mounted next to the pages, and a part that is missing
becomes a :class:`Part` whose ``hint`` says which package adds it, shown on its
page. relays-inspector provides no dispatcher: it mounts itself when the command
is ``relays demo --inspect``, so the demo only asks whether that plugin is loaded
(:func:`relays.plugin_manager`) and links to its page, or says how to get it.
``pip install relays-http`` alone therefore still gives a working site: the
greeting form, the server-sent events and the JSON endpoint need nothing else,
and every other page explains what to install.

Each page shows the code behind it, read with :func:`inspect.getsource` from the
very functions that answer it, so the listing can never drift from what runs.
The HTML lives in ``_demo_site/`` (a layout and one fragment per page, filled in
with :class:`string.Template`) next to the stylesheet, the small script and a
sample file under ``_demo_site/assets``. relays-static serves those assets when
installed (with ETags and ranges, which the static-file page shows off);
otherwise :class:`Assets` hands out the few files by name.
"""

from __future__ import annotations

import asyncio
import html
import inspect
import secrets
import textwrap
import time
from collections.abc import AsyncIterator, Callable, Sequence
from importlib import resources
from string import Template
from typing import Any

import attrs

from relays import (
    BaseComponent,
    Component,
    Event,
    PluginNotFound,
    find_dispatcher,
    plugin_manager,
)

from ._controllers import Controller, JSONController, expose
from ._errors import NotFound
from ._sse import ServerSentEvent, event_stream, last_event_id

__all__ = [
    "ASSET_MEDIA_TYPES",
    "CHAT_SOCKET_PATH",
    "INSPECTOR_PATH",
    "LONGEST_CHAT_NAME",
    "RPC_PATH",
    "TICK_COUNT",
    "TICK_INTERVAL",
    "Api",
    "Assets",
    "Calculator",
    "ChatRoom",
    "Part",
    "Parts",
    "Root",
    "find_parts",
    "make_demo",
    "plugin_loaded",
]

#: Where the stylesheet, the script and the sample file are served.
ASSETS_PATH = "/assets"
#: The JSON-RPC endpoint the JSON-RPC page calls.
RPC_PATH = "/rpc/call"
#: The WebSocket endpoint of the chat page.
CHAT_SOCKET_PATH = "/chat/socket"
#: Where relays-inspector shows the running tree.
INSPECTOR_PATH = "/_relays/"
#: Chat names are shown to everyone in the room: short and printable.
LONGEST_CHAT_NAME = 20
#: The events page's stream: this many ticks, this many seconds apart, then ``done``.
TICK_COUNT = 10
TICK_INTERVAL = 0.5
#: The files :class:`Assets` serves without relays-static, and their media types.
ASSET_MEDIA_TYPES = {
    "site.css": "text/css; charset=utf-8",
    "demo.js": "text/javascript; charset=utf-8",
    "sample.txt": "text/plain; charset=utf-8",
}

_SITE = resources.files(__package__) / "_demo_site"


def _template(name: str) -> Template:
    return Template(_SITE.joinpath(name).read_text(encoding="utf-8"))


# -- the optional parts --------------------------------------------------------------


@attrs.frozen
class Part:
    """One optional part of the demo, as the plugin lookup found it.

    *factory* is the plugin's dispatcher factory (None for a part that mounts itself,
    or is missing); when it is not *installed*, *hint* is what to run to add it.
    """

    name: str
    package: str
    installed: bool
    factory: Callable[..., BaseComponent] | None = None
    #: What to run to add the part (empty when it is installed).
    hint: str = ""
    #: Why the lookup failed, in the kernel's words (it may know more: a blocked plugin).
    reason: str = ""


def _look_up(name: str, package: str) -> Part:
    try:
        return Part(name, package, True, find_dispatcher(name))
    except PluginNotFound as error:
        # The kernel names the distribution of the parts it knows; *package* the others.
        package = error.package or package
        return Part(name, package, False, None, f"pip install {package}", str(error))


def plugin_loaded(name: str, package: str) -> Part:
    """A part that is a plugin of its own, with no dispatcher to ask for: loaded or not."""
    if plugin_manager().has_plugin(name):
        return Part(name, package, True)
    reason = f"no plugin {name!r} is loaded (installed and not blocked)"
    return Part(name, package, False, None, f"pip install {package}", reason)


@attrs.frozen
class Parts:
    """Which optional parts this demo has: each a :class:`Part`."""

    static: Part
    sessions: Part
    jsonrpc: Part
    websocket: Part
    inspector: Part


def find_parts() -> Parts:
    """Ask the installed plugins for every optional part of the demo."""
    return Parts(
        static=_look_up("static", "relays-static"),
        sessions=_look_up("sessions", "relays-sessions"),
        jsonrpc=_look_up("jsonrpc", "relays-jsonrpc"),
        websocket=_look_up("websocket", "relays-websocket"),
        inspector=plugin_loaded("inspector", "relays-inspector"),
    )


# -- rendering -----------------------------------------------------------------------

#: The pages in the order of the navigation: (page name, URL, label).
_NAVIGATION = (
    ("index", "/", "Greeting"),
    ("session", "/session", "Session"),
    ("rpc", "/rpc", "JSON-RPC"),
    ("files", "/files", "Static files"),
    ("chat", "/chat", "Chat"),
    ("events", "/events", "Events"),
    ("inspector", "/inspector", "Inspector"),
)


def source_of(function: Callable[..., Any]) -> str:
    """The source of *function*, dedented: what a page shows as the code behind it."""
    return textwrap.dedent(inspect.getsource(function)).strip()


def _code_figure(functions: Sequence[Callable[..., Any]]) -> str:
    if not functions:
        return ""
    listing = "\n\n".join(html.escape(source_of(function)) for function in functions)
    places = ", ".join(
        f"<code>{html.escape(function.__module__)}.{html.escape(function.__qualname__)}</code>"
        for function in functions
    )
    return (
        '<figure class="code">\n'
        f"  <figcaption>The code behind this page ({places}):</figcaption>\n"
        f"  <pre><code>{listing}</code></pre>\n</figure>"
    )


def _missing(part: Part, what: str) -> str:
    # The kernel's reason is worth showing when it says more than the hint (a blocked plugin).
    reason = (
        "" if part.hint in part.reason else f'<p class="status">{html.escape(part.reason)}</p>'
    )
    return (
        f'<div class="card missing" id="missing-{part.name}">\n'
        f"  <p>{html.escape(what)} needs <strong>{html.escape(part.package)}</strong>,"
        " which is not installed. Add it with:</p>\n"
        f"  <p><code>{html.escape(part.hint)}</code></p>\n  {reason}\n</div>"
    )


def render_page(
    page: str,
    *,
    title: str,
    lead: str,
    content: str,
    code: Sequence[Callable[..., Any]] = (),
) -> str:
    """A whole page of the site: the layout around *content*, and the *code* behind it."""
    current = ' aria-current="page"'
    nav = "\n".join(
        f'    <a href="{url}"{current if name == page else ""}>{label}</a>'
        for name, url, label in _NAVIGATION
    )
    return _template("layout.html").substitute(
        page=page,
        title=html.escape(title),
        lead=lead,
        nav=nav,
        content=content,
        code=_code_figure(code),
    )


# -- the pages -----------------------------------------------------------------------


class Root(Controller):
    """The site's pages, one per part of relays (each method is the page of its name)."""

    def __init__(self, parts: Parts) -> None:
        super().__init__()
        self.parts = parts

    def index(self) -> str:
        """``GET /``: what the demo shows, and the greeting form (a controller)."""
        return self._greeting_page("")

    @expose(methods=["POST"])
    def greet(self, name: str = "") -> str:
        """``POST /greet`` with a ``name`` field (a GET is answered 405)."""
        greeting = f"Hello, {html.escape(name.strip() or 'stranger')}!"
        return self._greeting_page(f'<div class="card result" id="greeting">{greeting}</div>')

    def _greeting_page(self, greeting: str) -> str:
        content = _template("index.html").substitute(greeting=greeting)
        return render_page(
            "index",
            title="relays demo",
            lead="Each page shows one part of relays working, with the code behind it.",
            content=content,
            code=[Root.greet],
        )

    def session(self) -> str:
        """``GET /session``: a visit counter kept in the visitor's session."""
        if not self.parts.sessions.installed:
            content = _missing(self.parts.sessions, "The visit counter")
        else:
            visits = count_visit(self.request.session)
            content = _template("session.html").substitute(visits=visits)
        return render_page(
            "session",
            title="A session",
            lead="relays-sessions gives each visitor a signed cookie and a session in memory.",
            content=content,
            code=[count_visit],
        )

    def rpc(self) -> str:
        """``GET /rpc``: a page that calls :class:`Calculator` over JSON-RPC."""
        if not self.parts.jsonrpc.installed:
            content = _missing(self.parts.jsonrpc, "The JSON-RPC call")
        else:
            content = _template("rpc.html").substitute(endpoint=RPC_PATH)
        return render_page(
            "rpc",
            title="JSON-RPC",
            lead="Any component on the RPC channel answers calls with its public methods.",
            content=content,
            code=[Calculator.add],
        )

    def files(self) -> str:
        """``GET /files``: a static file fetched whole, again with its ETag, then a range."""
        if not self.parts.static.installed:
            content = _missing(self.parts.static, "ETags and byte ranges")
        else:
            content = _template("files.html").substitute(url=f"{ASSETS_PATH}/sample.txt")
        return render_page(
            "files",
            title="Static files",
            lead="relays-static serves files with ETags, conditional requests and ranges.",
            content=content,
            code=[serve_assets],
        )

    def chat(self) -> str:
        """``GET /chat``: a chat room over a WebSocket (open it in two tabs)."""
        if not self.parts.websocket.installed:
            content = _missing(self.parts.websocket, "The chat")
        else:
            content = _template("chat.html").substitute(socket=CHAT_SOCKET_PATH)
        return render_page(
            "chat",
            title="Chat",
            lead="Open this page in two tabs: every line goes to everyone in the room.",
            content=content,
            code=[ChatRoom.read],
        )

    @expose("events")
    def events_page(self) -> str:
        """``GET /events``: a page that listens to the stream of :meth:`ticks`."""
        return render_page(
            "events",
            title="Server-sent events",
            lead="The server pushes lines to the page over one long HTTP response.",
            content=_template("events.html").substitute(url="/ticks"),
            code=[Root.ticks, ticking],
        )

    def ticks(self) -> AsyncIterator[bytes]:
        """``GET /ticks``: the event stream; a reconnecting browser resumes where it was."""
        resume = last_event_id(self.request)
        first = int(resume) + 1 if resume is not None and resume.isdigit() else 1
        return event_stream(self.response, ticking(first), retry=1000)

    def inspector(self) -> str:
        """``GET /inspector``: the link to relays-inspector, or how to get it."""
        if not self.parts.inspector.installed:
            content = _missing(self.parts.inspector, "The live inspector")
        else:
            content = _template("inspector.html").substitute(url=INSPECTOR_PATH)
        return render_page(
            "inspector",
            title="Inspector",
            lead="relays-inspector draws the running component tree and its events, live.",
            content=content,
            code=[plugin_loaded],
        )


def count_visit(session: Any) -> int:
    """One more visit in *session* (relays-sessions saves it with the response)."""
    session["visits"] = session.get("visits", 0) + 1
    return int(session["visits"])


async def ticking(first: int) -> AsyncIterator[ServerSentEvent]:
    """Ticks *first* to :data:`TICK_COUNT`, one every :data:`TICK_INTERVAL` seconds."""
    for number in range(first, TICK_COUNT + 1):
        now = time.strftime("%H:%M:%S")
        yield ServerSentEvent(f"tick {number} at {now}", event="tick", id=str(number))
        await asyncio.sleep(TICK_INTERVAL)
    yield ServerSentEvent("done", event="done")


class Calculator(Component):
    """The JSON-RPC page's methods: every public method on the RPC channel is callable."""

    channel = "demo.rpc"

    def add(self, a: float, b: float) -> float:
        return a + b


class ChatRoom(Component):
    """The chat page's room: who is in it, and each line passed on to everyone."""

    channel = "demo.chat"

    def __init__(self, endpoint: Any) -> None:
        super().__init__()
        self.endpoint = endpoint
        self.names: dict[Any, str] = {}

    def connect(self, sock: Any) -> None:
        name = sock.request.query.get("name", "").strip()[:LONGEST_CHAT_NAME]
        self.names[sock] = name if name.isprintable() and name else "anonymous"
        self.endpoint.join(sock, "room")
        self.say(f"* {self.names[sock]} joined")

    def read(self, sock: Any, message: str | bytes) -> None:
        if isinstance(message, str):
            self.say(f"{self.names[sock]}: {message}")

    def disconnect(self, sock: Any) -> None:
        name = self.names.pop(sock, None)
        if name is not None:
            self.say(f"* {name} left")

    def say(self, line: str) -> None:
        """Send *line* to the room: a ``broadcast`` event for the WebSocket endpoint."""
        self.fire(Event.create("broadcast", line, "room"), self.channel)


class Assets(Controller):
    """The site's assets by name, for when relays-static is not installed."""

    channel = ASSETS_PATH

    def index(self, name: str = "") -> bytes:
        media_type = ASSET_MEDIA_TYPES.get(name)
        if media_type is None:
            raise NotFound(f"no demo asset {name!r}")
        self.response.headers["Content-Type"] = media_type
        return _SITE.joinpath("assets", name).read_bytes()


class Api(JSONController):
    """``GET /api/info``: a JSON document."""

    channel = "/api"

    def __init__(self) -> None:
        super().__init__()
        self.started = time.time()
        self.served = 0

    @expose(methods=["GET"])
    def info(self) -> dict[str, Any]:
        self.served += 1
        remote = self.request.remote
        return {
            "server": "relays",
            "uptime": round(time.time() - self.started, 3),
            "served": self.served,
            "you": {
                "address": remote[0] if isinstance(remote, tuple) else None,
                "agent": self.request.headers.get("user-agent"),
            },
        }


# -- mounting the parts --------------------------------------------------------------


def serve_assets(static: Callable[..., BaseComponent]) -> BaseComponent:
    """The assets folder, served by relays-static (ETag, Last-Modified, ranges)."""
    return static(ASSETS_PATH, docroot=str(_SITE.joinpath("assets")))


def make_demo(parts: Parts | None = None) -> BaseComponent:
    """The demo's components, ready to go under a :class:`~relays_http.Server`.

    *parts* are the optional parts to use (default: what the installed plugins provide).
    """
    parts = find_parts() if parts is None else parts
    app = Root(parts) + Api()
    if parts.static.factory is not None:
        app += serve_assets(parts.static.factory)
    else:
        app += Assets()
    if parts.sessions.factory is not None:
        # A secret of this run: sessions last as long as the demo process, in its memory.
        app += parts.sessions.factory("memory://", secret=secrets.token_urlsafe(32))
    if parts.jsonrpc.factory is not None:
        app += parts.jsonrpc.factory(RPC_PATH, rpc_channel=Calculator.channel)
        app += Calculator()
    if parts.websocket.factory is not None:
        endpoint = parts.websocket.factory(
            CHAT_SOCKET_PATH, channel=ChatRoom.channel, max_message=4096
        )
        app += endpoint
        app += ChatRoom(endpoint)
    return app
