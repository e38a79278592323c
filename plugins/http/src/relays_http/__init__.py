"""relays-http: a strict, fast HTTP/1.1 server for relays, on circuits.web's model.

A transport fires ``read`` events, the :class:`HTTP` component collects a request
and fires ``request(request, response)`` on the server's channel (``"web"``), a
handler answers, and the answer is written back. See ``docs/howto/http-server.rst``.
"""

from ._auth import (
    AUTH_PRIORITY,
    USER_KEY,
    BasicAuth,
    DigestAuth,
    Htpasswd,
    authenticated_user,
    parse_authorization,
)
from ._bodies import SpooledBody, chunk_bytes
from ._body import BodyConsumed, ClientDisconnected
from ._cancellation import shielded
from ._compression import (
    COMPRESSIBLE_TYPES,
    COMPRESSION_PRIORITY,
    DEFAULT_THREAD_THRESHOLD,
    Compression,
    ContentEncoder,
    available_encodings,
    compress_response,
    new_encoder,
)
from ._conditional import (
    CONDITIONAL_PRIORITY,
    ConditionalGet,
    cache_control,
    check_preconditions,
    conditional_response,
    evaluate_preconditions,
    expires,
    http_date,
    make_etag,
    parse_etags,
)
from ._controllers import BaseController, Controller, JSONController, expose
from ._cookies import ClientCookie, Cookie
from ._cors import CORS, CORS_PRIORITY
from ._dispatcher import Dispatcher
from ._errors import (
    ERROR_PAGES_PRIORITY,
    BadRequest,
    ErrorPages,
    Forbidden,
    HTTPError,
    InternalServerError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    Redirect,
    RequestTimeout,
    ServiceUnavailable,
    Unauthorized,
    UnsupportedMediaType,
    error_response,
    prefers_json,
    render_error_body,
)
from ._exchange import ConnectionInfo, Exchange, HeadTaker
from ._filenames import safe_filename
from ._files import FileRegion
from ._forms import FormData, FormError, UploadedFile
from ._headers import Headers, MultiDict
from ._limits import KiB, Limits, MiB
from ._negotiation import Preference, best_media_type, choose_encoding, parse_preferences
from ._proxy import TrustedProxies
from ._request import Request, target_parts
from ._response import Response
from ._response_fields import response_fields
from ._server import HTTP
from ._servers import BaseServer, BindError, Server
from ._sse import ServerSentEvent, event_stream, last_event_id
from ._streaming import Trailers
from ._upgrade import SwitchProtocols, UpgradeHandler
from ._virtualhosts import VirtualHosts
from ._wsgi_application import Application
from ._wsgi_gateway import Gateway
from ._wsgi_head import WSGIHeadError, WSGIResponseHead
from .events import (
    BadRequestEvent,
    BeforeRequestEvent,
    BeforeResponseEvent,
    RequestEvent,
    ResponseEvent,
)

__all__ = [
    "AUTH_PRIORITY",
    "COMPRESSIBLE_TYPES",
    "COMPRESSION_PRIORITY",
    "CONDITIONAL_PRIORITY",
    "CORS",
    "CORS_PRIORITY",
    "DEFAULT_THREAD_THRESHOLD",
    "ERROR_PAGES_PRIORITY",
    "HTTP",
    "USER_KEY",
    "Application",
    "BadRequest",
    "BadRequestEvent",
    "BaseController",
    "BaseServer",
    "BasicAuth",
    "BeforeRequestEvent",
    "BeforeResponseEvent",
    "BindError",
    "BodyConsumed",
    "ClientCookie",
    "ClientDisconnected",
    "Compression",
    "ConditionalGet",
    "ConnectionInfo",
    "ContentEncoder",
    "Controller",
    "Cookie",
    "DigestAuth",
    "Dispatcher",
    "ErrorPages",
    "Exchange",
    "FileRegion",
    "Forbidden",
    "FormData",
    "FormError",
    "Gateway",
    "HTTPError",
    "HeadTaker",
    "Headers",
    "Htpasswd",
    "InternalServerError",
    "JSONController",
    "KiB",
    "Limits",
    "MethodNotAllowed",
    "MiB",
    "MultiDict",
    "NotFound",
    "PayloadTooLarge",
    "Preference",
    "Redirect",
    "Request",
    "RequestEvent",
    "RequestTimeout",
    "Response",
    "ResponseEvent",
    "Server",
    "ServerSentEvent",
    "ServiceUnavailable",
    "SpooledBody",
    "SwitchProtocols",
    "Trailers",
    "TrustedProxies",
    "Unauthorized",
    "UnsupportedMediaType",
    "UpgradeHandler",
    "UploadedFile",
    "VirtualHosts",
    "WSGIHeadError",
    "WSGIResponseHead",
    "authenticated_user",
    "available_encodings",
    "best_media_type",
    "cache_control",
    "check_preconditions",
    "choose_encoding",
    "chunk_bytes",
    "compress_response",
    "conditional_response",
    "error_response",
    "evaluate_preconditions",
    "event_stream",
    "expires",
    "expose",
    "http_date",
    "last_event_id",
    "make_etag",
    "new_encoder",
    "parse_authorization",
    "parse_etags",
    "parse_preferences",
    "prefers_json",
    "render_error_body",
    "response_fields",
    "safe_filename",
    "shielded",
    "target_parts",
]
