"""HTTP authentication: Basic (RFC 7617) and Digest (RFC 7616), per path, and htpasswd files.

Theory of operation
-------------------
:class:`BasicAuth` and :class:`DigestAuth` are components, as circuits'
``basic_auth``/``digest_auth`` and CherryPy's ``auth_basic``/``auth_digest`` are
tools. Each handles ``before_request`` at :data:`AUTH_PRIORITY` (after CORS
preflights and sessions, before routing) for the requests under its *paths*: a
request whose ``Authorization`` proves a user goes on, with the user's name in
the request's context (:func:`authenticated_user`); any other gets a ``401`` with
the challenge that says how to authenticate (``WWW-Authenticate``), and the pages
never run. Comparisons of secrets use :func:`hmac.compare_digest`, and an unknown
user costs the same comparison as a known one, so timing tells an attacker
neither a password's prefix nor whether a user exists.

Digest. The server never sees the password: the client proves it knows it by
hashing it with the server's *nonce*, the request's method and URI, and a nonce
count. Nonces are stateless: the time they were made and an HMAC of it under a
per-component secret, so any worker of the same component can check them; a
nonce older than ``nonce_lifetime`` is answered with ``stale=true`` (the browser
retries without asking the user again). Each nonce's highest count seen is kept
(at most ``max_nonces`` of them, oldest forgotten first) and a request that does
not raise it is a replay, refused. SHA-256 is offered first, MD5 after it for
old clients (``algorithms=``); ``qop=auth`` only.

:class:`Htpasswd` reads Apache's password files: bcrypt, SHA-crypt and Apache MD5
hashes through libpass (``pip install 'relays-http[htpasswd]'``), and ``{SHA}``
without it. The file is read again when it changes on disk.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from relays import BaseComponent, Priority, handler

from ._errors import BadRequest, Unauthorized
from ._request import Request
from ._response import Response

__all__ = [
    "AUTH_PRIORITY",
    "USER_KEY",
    "BasicAuth",
    "DigestAuth",
    "Htpasswd",
    "authenticated_user",
    "parse_authorization",
]

#: The ``before_request`` priority of the auth components: after CORS preflights and
#: relays-sessions (:attr:`relays.Priority.PREPARE`), before routing.
AUTH_PRIORITY = Priority.PREPARE - 10
#: The ``request.context`` key of the authenticated user's name.
USER_KEY = "relays_http.user"
#: Longest ``Authorization`` field read; a longer one is refused.
MAX_AUTHORIZATION = 8192
_DIGESTS = {"SHA-256": hashlib.sha256, "MD5": hashlib.md5}
_DUMMY = "relays-http: no such user"
_TOKEN = re.compile(r"[-!#$%&'*+.^_`|~0-9A-Za-z]+")


def authenticated_user(request: Request) -> str | None:
    """The user :class:`BasicAuth` or :class:`DigestAuth` let *request* in as."""
    user = request.context.get(USER_KEY)
    return user if isinstance(user, str) else None


def parse_authorization(field: str) -> tuple[str, str | dict[str, str]]:
    """``(scheme, credentials)`` of an ``Authorization`` *field*: the scheme lower
    case, and either its token68 (Basic) or its parameters (Digest), names lower
    case, quoted strings unquoted. Raises :class:`~relays_http.BadRequest` for a
    field that is neither."""
    if len(field) > MAX_AUTHORIZATION:
        raise BadRequest("the Authorization field is too long")
    scheme, _, rest = field.strip().partition(" ")
    scheme = scheme.lower()
    rest = rest.strip()
    if _TOKEN.fullmatch(scheme) is None:
        raise BadRequest("the Authorization field has no scheme")
    if "=" not in rest.rstrip("="):
        return scheme, rest  # token68 (may end in '=' padding)
    parameters: dict[str, str] = {}
    position, length = 0, len(rest)
    while position < length:
        while position < length and rest[position] in " \t,":
            position += 1
        if position >= length:
            break
        equals = rest.find("=", position)
        if equals < 0:
            raise BadRequest("a parameter of the Authorization field has no value")
        name = rest[position:equals].strip().lower()
        if _TOKEN.fullmatch(name) is None:
            raise BadRequest("a parameter of the Authorization field has a bad name")
        position = equals + 1
        while position < length and rest[position] in " \t":
            position += 1
        if position < length and rest[position] == '"':
            value, position = _quoted(rest, position)
        else:
            end = rest.find(",", position)
            end = length if end < 0 else end
            value = rest[position:end].strip()
            position = end
        if name in parameters:
            raise BadRequest(f"the Authorization parameter {name!r} is given twice")
        parameters[name] = value
    return scheme, parameters


def _quoted(text: str, start: int) -> tuple[str, int]:
    """The quoted string at *start* (a '"'), unescaped, and the position after it."""
    characters: list[str] = []
    position = start + 1
    while position < len(text):
        character = text[position]
        if character == "\\" and position + 1 < len(text):
            characters.append(text[position + 1])
            position += 2
            continue
        if character == '"':
            return "".join(characters), position + 1
        characters.append(character)
        position += 1
    raise BadRequest("a quoted string in the Authorization field is not closed")


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _in_scope(path: str, paths: tuple[str, ...], exclude: tuple[str, ...]) -> bool:
    return path.startswith(paths) and not (exclude and path.startswith(exclude))


class Htpasswd:
    """An Apache htpasswd file: ``user:hash`` lines, read again when it changes.

    bcrypt (``$2y$``), SHA-crypt (``$5$``, ``$6$``) and Apache MD5 (``$apr1$``)
    hashes need libpass (``pip install 'relays-http[htpasswd]'``); ``{SHA}`` hashes
    work without it. Plain-text and ``crypt(3)`` DES entries are refused.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._stamp: tuple[float, int] | None = None
        self._hashes: dict[str, str] = {}
        self._load()

    def _load(self) -> None:
        stat = os.stat(self.path)
        stamp = (stat.st_mtime, stat.st_size)
        if stamp == self._stamp:
            return
        hashes: dict[str, str] = {}
        with open(self.path, encoding="utf-8") as file:
            for number, line in enumerate(file, 1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                user, colon, hashed = line.partition(":")
                if not colon or not user:
                    raise ValueError(f"{self.path}:{number}: not a 'user:hash' line")
                hashes[user] = hashed
        self._hashes = hashes
        self._stamp = stamp

    def check(self, user: str, password: str) -> bool:
        """Whether *password* is *user*'s (the same work when *user* is unknown)."""
        self._load()
        hashed = self._hashes.get(user)
        if hashed is None:
            hashed = self._hashes.get(_DUMMY) or "{SHA}" + base64.b64encode(
                hashlib.sha1(b"").digest()
            ).decode("ascii")
            _verify(password + "\0", hashed)
            return False
        return _verify(password, hashed)

    def __call__(self, user: str, password: str) -> bool:
        return self.check(user, password)


def _verify(password: str, hashed: str) -> bool:
    if hashed.startswith("{SHA}"):
        digest = base64.b64encode(hashlib.sha1(password.encode("utf-8")).digest()).decode()
        return hmac.compare_digest(digest, hashed[5:])
    if hashed.startswith(("$2y$", "$2b$", "$2a$", "$5$", "$6$", "$apr1$")):
        try:
            from passlib.apache import htpasswd_context  # type: ignore[import-untyped]
        except ImportError:
            raise ImportError(
                "bcrypt, sha-crypt and apr1 htpasswd entries need libpass: "
                "pip install 'relays-http[htpasswd]'"
            ) from None
        return bool(htpasswd_context.verify(password, hashed))
    raise ValueError("unsupported htpasswd hash: use bcrypt (htpasswd -B) or SHA-crypt")


class BasicAuth(BaseComponent):
    """Ask for a user name and password (HTTP Basic) on *paths*.

    *users* checks them: a mapping of user to password (compared in constant
    time), an :class:`Htpasswd`, or any callable ``(user, password) -> bool``.
    Basic sends the password with every request: use it over HTTPS only.
    *exclude* lists path prefixes left open.
    """

    channel = "web"

    def __init__(
        self,
        realm: str,
        users: Mapping[str, str] | Callable[[str, str], bool],
        *,
        paths: Sequence[str] = ("/",),
        exclude: Sequence[str] = (),
        channel: Any = "web",
    ) -> None:
        super().__init__(channel=channel)
        if '"' in realm or "\\" in realm:
            raise ValueError(f"a realm may not hold quotes or backslashes: {realm!r}")
        self.realm = realm
        self._check = users if callable(users) else _PasswordTable(users).check
        self.paths = tuple(paths)
        self.exclude = tuple(exclude)
        self.challenge = f'Basic realm="{realm}", charset="UTF-8"'

    @handler("before_request", priority=AUTH_PRIORITY)
    def _on_before_request(self, request: Request, response: Response) -> Any:
        if not _in_scope(request.path, self.paths, self.exclude):
            return None
        field = request.header(b"authorization")
        if field is not None:
            scheme, credentials = parse_authorization(field.decode("latin-1"))
            if scheme == "basic" and isinstance(credentials, str):
                try:
                    decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
                except (binascii.Error, UnicodeDecodeError):
                    raise BadRequest("the Basic credentials are not base64 UTF-8") from None
                user, colon, password = decoded.partition(":")
                if colon and self._check(user, password):
                    request.context[USER_KEY] = user
                    return None
        return Unauthorized("sign in to see this page", challenge=self.challenge)


class _PasswordTable:
    """Plain passwords by user, compared in constant time, unknown users included."""

    def __init__(self, users: Mapping[str, str]) -> None:
        self._users = dict(users)

    def check(self, user: str, password: str) -> bool:
        expected = self._users.get(user)
        same = hmac.compare_digest(
            password.encode("utf-8"), (expected if expected is not None else _DUMMY).encode()
        )
        return same and expected is not None


class DigestAuth(BaseComponent):
    """Ask for HTTP Digest authentication (RFC 7616) on *paths*.

    *users* gives a user's password: a mapping, or a callable returning it (None
    for an unknown user). *algorithms* are offered in order (``SHA-256`` and
    ``MD5``); *nonce_lifetime* is how many seconds a nonce is good for; *secret*
    signs nonces (share it between processes serving the same realm; default: a
    random one). *exclude* lists path prefixes left open.
    """

    channel = "web"

    def __init__(
        self,
        realm: str,
        users: Mapping[str, str] | Callable[[str], str | None],
        *,
        algorithms: Sequence[str] = ("SHA-256", "MD5"),
        nonce_lifetime: float = 300.0,
        max_nonces: int = 10_000,
        secret: bytes | None = None,
        paths: Sequence[str] = ("/",),
        exclude: Sequence[str] = (),
        clock: Callable[[], float] = time.time,
        channel: Any = "web",
    ) -> None:
        super().__init__(channel=channel)
        if '"' in realm or "\\" in realm:
            raise ValueError(f"a realm may not hold quotes or backslashes: {realm!r}")
        unknown = [name for name in algorithms if name not in _DIGESTS]
        if unknown or not algorithms:
            raise ValueError(f"digest algorithms are SHA-256 and MD5, not {unknown or 'none'}")
        self.realm = realm
        self._password = users if callable(users) else dict(users).get
        self.algorithms = tuple(algorithms)
        self.nonce_lifetime = nonce_lifetime
        self.max_nonces = max_nonces
        self._secret = secret or secrets.token_bytes(32)
        self._opaque = hashlib.sha256(self._secret + b"opaque").hexdigest()[:32]
        self._counts: OrderedDict[str, int] = OrderedDict()
        self.paths = tuple(paths)
        self.exclude = tuple(exclude)
        self._clock = clock

    def _nonce(self) -> str:
        stamp = f"{self._clock():.6f}"
        signature = hmac.new(self._secret, stamp.encode(), hashlib.sha256).hexdigest()[:32]
        return base64.urlsafe_b64encode(f"{stamp} {signature}".encode()).decode("ascii")

    def _nonce_age(self, nonce: str) -> float | None:
        """Seconds since *nonce* was made here, or None if it was not."""
        try:
            stamp, _, signature = base64.urlsafe_b64decode(nonce).decode("ascii").partition(" ")
            made = float(stamp)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        expected = hmac.new(self._secret, stamp.encode(), hashlib.sha256).hexdigest()[:32]
        if not hmac.compare_digest(signature, expected):
            return None
        return self._clock() - made

    def challenge(self, *, stale: bool = False) -> Response:
        """A 401 with one ``WWW-Authenticate`` challenge per algorithm."""
        page = Response("sign in to see this page\n", 401, content_type="text/plain")
        nonce = self._nonce()
        for algorithm in self.algorithms:
            value = (
                f'Digest realm="{self.realm}", qop="auth", algorithm={algorithm}, '
                f'nonce="{nonce}", opaque="{self._opaque}"'
            )
            if stale:
                value += ", stale=true"
            page.headers.add("www-authenticate", value)
        return page

    @handler("before_request", priority=AUTH_PRIORITY)
    def _on_before_request(self, request: Request, response: Response) -> Any:
        if not _in_scope(request.path, self.paths, self.exclude):
            return None
        field = request.header(b"authorization")
        if field is None:
            return self.challenge()
        scheme, parameters = parse_authorization(field.decode("latin-1"))
        if scheme != "digest" or not isinstance(parameters, dict):
            return self.challenge()
        return self._verify(request, parameters)

    def _verify(self, request: Request, parameters: dict[str, str]) -> Any:
        try:
            user = parameters["username"]
            nonce = parameters["nonce"]
            uri = parameters["uri"]
            answer = parameters["response"]
            count_text = parameters["nc"]
            cnonce = parameters["cnonce"]
        except KeyError as missing:
            raise BadRequest(f"the Digest credentials have no {missing.args[0]}") from None
        algorithm = parameters.get("algorithm", "MD5").upper()
        if (
            parameters.get("realm") != self.realm
            or parameters.get("qop") != "auth"
            or algorithm not in self.algorithms
            or parameters.get("opaque", self._opaque) != self._opaque
        ):
            return self.challenge()
        if uri != request.target:
            raise BadRequest("the Digest uri is not the request's target")
        age = self._nonce_age(nonce)
        if age is None:
            return self.challenge()
        try:
            count = int(count_text, 16)
        except ValueError:
            raise BadRequest("the Digest nc is not a hexadecimal count") from None
        digest = _DIGESTS[algorithm]

        def hashed(text: str) -> str:
            return digest(text.encode("utf-8")).hexdigest()

        password = self._password(user)
        secret = password if password is not None else _DUMMY
        first = hashed(f"{user}:{self.realm}:{secret}")
        second = hashed(f"{request.method}:{uri}")
        expected = hashed(f"{first}:{nonce}:{count_text}:{cnonce}:auth:{second}")
        if not hmac.compare_digest(expected, answer.lower()) or password is None:
            return self.challenge()
        if age > self.nonce_lifetime:
            return self.challenge(stale=True)
        if count <= self._counts.get(nonce, 0):
            return self.challenge()  # a replayed request
        self._counts[nonce] = count
        self._counts.move_to_end(nonce)
        while len(self._counts) > self.max_nonces:
            self._counts.popitem(last=False)
        request.context[USER_KEY] = user
        return None
