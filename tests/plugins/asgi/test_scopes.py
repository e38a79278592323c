"""The two builders of an ``http`` scope say the same thing of the same request.

relays-asgi builds a request's scope two ways: from a relays-http ``Request``
(``http_scope``, when the request comes the event way because something in the tree
watches requests) and from the parsed head (one dict literal in ``Asgi._take``, when
it is served straight from the head). An app must not be able to tell them apart, so
each property here sends the same bytes both ways and compares the scopes whole.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relays import Component, handler
from relays.testing import MemoryTransport
from relays_asgi import Asgi
from relays_http import BaseServer, Request, Response
from relays_http.testing import Client

Scope = dict[str, Any]


class AccessLog(Component):
    """A ``response`` listener: while it is in the tree, requests go the event way."""

    channel = "web"

    @handler("response")
    def _on_response(self, request: Request, response: Response) -> None:
        pass


def recorder(scopes: list[Scope]) -> Any:
    """An app that keeps every ``http`` scope and fills the lifespan ``state``."""

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    scope["state"]["pool"] = "ready"
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        scopes.append(scope)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body"})

    return app


# What a request may hold: methods (case kept on the wire), versions, field names in
# any case with values of visible ASCII, and target tails of path characters, escapes
# and queries, under the mount, in origin-form or absolute-form.
_METHODS = st.sampled_from(["GET", "HEAD", "DELETE", "OPTIONS", "PURGE", "get"])
_NAMES = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1)
_VALUES = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=12)
_FIELDS = st.lists(st.tuples(_NAMES.map(lambda name: "X-" + name[:10]), _VALUES), max_size=4)
_TAILS = st.text("abz09-._~%20/?=&:@!$'()*+,;", max_size=12)
_MOUNTS = st.sampled_from(["/", "/api", "/deep/er"])
_ADDRESSES = st.sampled_from([("127.0.0.1", 8000), ("::1", 8443), "/run/relays.sock"])


def request_bytes(method: str, target: str, version: str, fields: list[tuple[str, str]]) -> bytes:
    lines = [f"{method} {target} HTTP/{version}", "Host: example.com"]
    lines += [f"{name}: {value}" for name, value in fields]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def scope_of(
    data: bytes, mount: str, secure: bool, address: Any, *, event_way: bool
) -> Scope:
    scopes: list[Scope] = []
    transport = MemoryTransport(channel="web", address=address)
    server = BaseServer(transport=transport)
    server += Asgi(recorder(scopes), path=mount)
    if event_way:
        server += AccessLog()
    async with server:
        client = Client(transport, peer=("10.0.0.7", 51000))
        client.connection.connection.secure = secure
        client.send(data)
        response = (await client.responses(1))[0]
    assert response.status == 204, response
    assert len(scopes) == 1
    return scopes[0]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    method=_METHODS,
    version=st.sampled_from(["1.1", "1.0"]),
    fields=_FIELDS,
    mount=_MOUNTS,
    tail=_TAILS,
    absolute=st.booleans(),
    secure=st.booleans(),
    address=_ADDRESSES,
)
def test_the_scope_from_the_head_is_the_scope_from_the_request(
    method: str,
    version: str,
    fields: list[tuple[str, str]],
    mount: str,
    tail: str,
    absolute: bool,
    secure: bool,
    address: Any,
) -> None:
    target = mount.rstrip("/") + "/" + tail
    if absolute:
        target = "http://example.com" + target
    data = request_bytes(method, target, version, fields)

    from_head = asyncio.run(scope_of(data, mount, secure, address, event_way=False))
    from_request = asyncio.run(scope_of(data, mount, secure, address, event_way=True))

    assert from_head == from_request
    # And they say what was sent (the comparison alone would pass two equal mistakes).
    assert from_head["method"] == method.upper()
    assert from_head["scheme"] == ("https" if secure else "http")
    assert from_head["root_path"] == mount.rstrip("/")
    assert from_head["query_string"] == target.partition("?")[2].encode()
    assert from_head["state"] == {"pool": "ready"}
    assert from_head["client"] == ["10.0.0.7", 51000]
