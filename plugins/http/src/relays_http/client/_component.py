"""The ``Client`` component: HTTP requests as events, circuits.web's ``Client`` on a Session.

Fire ``request(method, url, headers=..., body=...)`` on the client's channel; its handler
sends the request through the component's :class:`Session` (one keep-alive pool for the
whole component) and fires ``response(response)`` on the same channel with the body read,
or ``request_failed(method, url, error)`` when no response could be had. The handler also
returns the response, so ``await self.call(ClientRequest(...), "client")`` gets it
directly. The session is made on the first request and closed when the tree stops.
"""

from __future__ import annotations

from typing import Any

from relays import BaseComponent, Component, Event

from ._errors import ClientError
from ._response import Response
from ._session import Content, HeadersArgument, Session

__all__ = ["Client", "ClientRequest", "ClientResponse", "RequestFailed"]


class ClientRequest(Event):
    """``request(method, url, headers=None, body=None, **options)``: send a request.

    ``body`` is bytes, str, an async iterable of bytes or a binary file; ``options`` are
    those of :meth:`Session.request` (``params=``, ``json=``, ``data=``, ``timeouts=``...).
    """

    name = "request"


class ClientResponse(Event):
    """``response(response)``: the :class:`Response` to a request, its body read."""

    name = "response"


class RequestFailed(Event):
    """``request_failed(method, url, error)``: no response; ``error`` is a ClientError."""


class Client(Component):
    """An HTTP client as a component; listens on ``channel`` (``"client"``).

    ``session_options`` are given to the :class:`Session` it makes (``timeouts=``,
    ``verify=``, ``headers=``, ``base_url=``...). Give several clients different
    channels to keep their settings and pools apart.
    """

    def __init__(self, *, channel: Any = "client", **session_options: Any) -> None:
        super().__init__(channel=channel)
        self._session_options = session_options
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        """The session requests go through (made on first use)."""
        if self._session is None:
            self._session = Session(**self._session_options)
        return self._session

    async def request(
        self,
        method: str,
        url: str,
        headers: HeadersArgument | None = None,
        body: Content | None = None,
        **options: Any,
    ) -> Response:
        """Send the request; fire ``response`` or ``request_failed`` on our channel."""
        try:
            response = await self.session.request(
                method, url, headers=headers, content=body, **options
            )
        except ClientError as error:
            self.fire(RequestFailed(method, url, error))
            raise
        self.fire(ClientResponse(response))
        return response

    async def stopped(self, component: BaseComponent) -> None:
        """Close the session's connections when the tree stops."""
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
