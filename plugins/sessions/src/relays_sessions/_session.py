"""The session a request sees: a mutable mapping of str to JSON-serializable values.

A :class:`Session` remembers the JSON text of every value as it was loaded. When
the response goes out, each value is encoded again and compared with that
snapshot: the keys whose text differs are *written*, the keys that disappeared are
*deleted*, and only those reach the store. So mutating a stored list in place
(``session["cart"].append(item)``) is saved like an assignment, a request that
only reads saves nothing, and concurrent requests that change different keys do
not overwrite each other.

Values are JSON, never pickle: a store shared between machines must not be able to
run code in every process that reads it.

A session may start *unloaded*: bound to the id a signed cookie named, through a
loader (the :class:`~relays_sessions.Sessions` component's), and empty until
first used. :meth:`Session.load` loads it by awaiting the store; any mapping
operation, :attr:`~Session.id`, :meth:`~Session.regenerate` and the like load it
first, synchronously, through the loader's ``load_sync``. A request whose handlers
never use the session therefore never reaches the store.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator, MutableMapping
from typing import Any, Protocol

from ._signing import new_session_id
from ._store import Record

__all__ = ["Loader", "Session", "encode_value"]


def encode_value(key: str, value: Any) -> str:
    """The JSON text of *value*; a :class:`TypeError` that names *key* if it has none."""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"session[{key!r}] must be JSON-serializable (str, int, float, bool, None, "
            f"list, dict with str keys): {error}"
        ) from None


class Loader(Protocol):
    """How an unloaded :class:`Session` loads itself; both methods end with
    :meth:`Session._fill` or :meth:`Session._start_afresh`, or raise."""

    def load_sync(self, session: Session) -> None: ...

    async def load(self, session: Session) -> None: ...


class Session(MutableMapping[str, Any]):
    """One client's session. Read and write it like a dict; it is saved for you.

    Obtain it with :func:`relays_sessions.session_of` (or ``request.session``)
    inside a ``request`` handler. It is loaded from the store on first use: in an
    ``async def`` handler, ``await session.load()`` (or ``await session``) first,
    so the loop never waits for the store.
    """

    def __init__(self, session_id: str | None = None, record: Record | None = None) -> None:
        self._id: str | None = None
        self._snapshot: dict[str, str] = {}
        self._data: dict[str, Any] = {}
        self._created: float | None = None
        self._expires: float | None = None
        self._regenerate = False
        # The id regenerate() replaced (deleted from the store when the new one is saved).
        self._replaced_id: str | None = None
        self._invalidated_id: str | None = None
        self._loader: Loader | None = None
        if session_id is not None and record is not None:
            self._fill(session_id, record)

    @classmethod
    def _unloaded(cls, loader: Loader) -> Session:
        """An empty session that loads itself through *loader* on first use."""
        session = cls()
        session._loader = loader
        return session

    # -- loading ---------------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        """False until the session is loaded (it then stays True); reading it loads nothing."""
        return self._loader is None

    async def load(self) -> Session:
        """Load the session from the store unless it is loaded; returns the session.

        Await it in an ``async def`` handler before using the session: the store is
        then read without blocking the event loop. Calling it again costs nothing.
        ``await session`` does the same.
        """
        loader = self._loader
        if loader is not None:
            await loader.load(self)
        return self

    def __await__(self) -> Generator[Any, None, Session]:
        return self.load().__await__()

    def _load_now(self) -> None:
        loader = self._loader
        if loader is not None:
            loader.load_sync(self)

    def _fill(self, session_id: str, record: Record) -> None:
        """Become the stored session *record*; ValueError (nothing changed) if it is not JSON."""
        snapshot = dict(record.data)
        data = {key: json.loads(text) for key, text in snapshot.items()}
        self._id = session_id
        self._snapshot = snapshot
        self._data = data
        self._created = record.created
        self._expires = record.expires
        self._loader = None

    def _start_afresh(self) -> None:
        """Loaded, as a new empty session (the store had none, or a damaged one)."""
        self._loader = None

    # -- the mapping -----------------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        if self._loader is not None:
            self._load_now()
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(key, str):
            raise TypeError(f"session keys are str, not {type(key).__name__}: {key!r}")
        encode_value(key, value)  # refuse now, in the handler, not when the response is sent
        if self._loader is not None:
            self._load_now()
        self._data[key] = value

    def __delitem__(self, key: str) -> None:
        if self._loader is not None:
            self._load_now()
        del self._data[key]

    def __iter__(self) -> Iterator[str]:
        if self._loader is not None:
            self._load_now()
        return iter(self._data)

    def __len__(self) -> int:
        if self._loader is not None:
            self._load_now()
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        if self._loader is not None:
            self._load_now()
        return key in self._data

    # -- life cycle ------------------------------------------------------------------

    @property
    def id(self) -> str | None:
        """The session id; None for a new session until it is first saved (or given a new
        id by :meth:`regenerate`, which changes it at once)."""
        self._load_now()
        return self._id

    @property
    def is_new(self) -> bool:
        """True when this request started the session (no valid cookie came with it)."""
        self._load_now()
        return self._created is None

    @property
    def created(self) -> float | None:
        """When the session was created (Unix time), None while it is new."""
        self._load_now()
        return self._created

    @property
    def expires(self) -> float | None:
        """When the stored session expires (Unix time), None while it is new."""
        self._load_now()
        return self._expires

    def regenerate(self) -> None:
        """Give the session a new id, keeping its data; call it when a user logs in.

        Against session fixation: an id an attacker planted before the login is
        worthless after it. :attr:`id` is the new id at once; the session is saved
        under it, the old id deleted from the store and the client given a new cookie
        when the response is sent.
        """
        self._load_now()
        if self._replaced_id is None:
            self._replaced_id = self._id
        self._id = new_session_id()
        self._regenerate = True

    def invalidate(self) -> None:
        """End the session: delete it from the store and tell the client to drop the cookie.

        Writing to the session afterwards, in the same request, starts a new one.
        """
        self._load_now()
        if self._id is not None:
            self._invalidated_id = self._id
        self._id = None
        self._snapshot = {}
        self._data = {}
        self._created = None
        self._expires = None
        self._regenerate = False
        if self._replaced_id is not None:  # regenerated, then ended: the old id ends too
            self._invalidated_id = self._replaced_id
            self._replaced_id = None

    # ``clear()`` is MutableMapping's: it deletes every key this request sees, keeping
    # the id (and keys another request adds meanwhile).

    # -- for the Sessions component --------------------------------------------------

    def _changes(self) -> tuple[dict[str, str], frozenset[str]]:
        """``(written, deleted)`` since loading: keys whose JSON text changed, keys gone."""
        snapshot = self._snapshot
        written = {}
        for key, value in self._data.items():
            text = encode_value(key, value)
            if snapshot.get(key) != text:
                written[key] = text
        deleted = frozenset(key for key in snapshot if key not in self._data)
        return written, deleted

    def _encoded(self) -> dict[str, str]:
        return {key: encode_value(key, value) for key, value in self._data.items()}

    def _saved(self, session_id: str, created: float, expires: float) -> None:
        """The store now holds this state under *session_id*."""
        self._id = session_id
        self._snapshot = self._encoded()
        self._created = created
        self._expires = expires
        self._regenerate = False
        self._replaced_id = None
        self._invalidated_id = None

    def as_dict(self) -> dict[str, Any]:
        """A shallow copy of the data."""
        self._load_now()
        return dict(self._data)

    def __repr__(self) -> str:
        # Never the id: a repr ends up in logs, and an id in a log is a stolen session.
        # Nor a load: looking at a session in a debugger or a log must not read the store.
        if self._loader is not None:
            return "<Session not loaded>"
        state = " new" if self._created is None else ""
        return f"<Session{state} keys={sorted(self._data)}>"
