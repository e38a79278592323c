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
"""

from __future__ import annotations

import json
from collections.abc import Iterator, MutableMapping
from typing import Any

from ._store import Record

__all__ = ["Session", "encode_value"]


def encode_value(key: str, value: Any) -> str:
    """The JSON text of *value*; a :class:`TypeError` that names *key* if it has none."""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"session[{key!r}] must be JSON-serializable (str, int, float, bool, None, "
            f"list, dict with str keys): {error}"
        ) from None


class Session(MutableMapping[str, Any]):
    """One client's session. Read and write it like a dict; it is saved for you.

    Obtain it with :func:`relays_sessions.session_of` (or
    ``request.context["session"]``) inside a ``request`` handler.
    """

    def __init__(self, session_id: str | None = None, record: Record | None = None) -> None:
        self._id = session_id
        self._snapshot: dict[str, str] = dict(record.data) if record is not None else {}
        self._data: dict[str, Any] = {
            key: json.loads(text) for key, text in self._snapshot.items()
        }
        #: When the session was created (Unix time), None while it is new.
        self.created: float | None = record.created if record is not None else None
        #: When the stored session expires (Unix time), None while it is new.
        self.expires: float | None = record.expires if record is not None else None
        self._regenerate = False
        self._invalidated_id: str | None = None

    # -- the mapping -----------------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(key, str):
            raise TypeError(f"session keys are str, not {type(key).__name__}: {key!r}")
        encode_value(key, value)  # refuse now, in the handler, not when the response is sent
        self._data[key] = value

    def __delitem__(self, key: str) -> None:
        del self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    # -- life cycle ------------------------------------------------------------------

    @property
    def id(self) -> str | None:
        """The session id; None for a new session until it is first saved."""
        return self._id

    @property
    def is_new(self) -> bool:
        """True when this request started the session (no valid cookie came with it)."""
        return self.created is None

    def regenerate(self) -> None:
        """Give the session a new id, keeping its data; call it when a user logs in.

        Against session fixation: an id an attacker planted before the login is
        worthless after it. The old id is deleted from the store and the client gets
        a new cookie when the response is sent.
        """
        self._regenerate = True

    def invalidate(self) -> None:
        """End the session: delete it from the store and tell the client to drop the cookie.

        Writing to the session afterwards, in the same request, starts a new one.
        """
        if self._id is not None:
            self._invalidated_id = self._id
        self._id = None
        self._snapshot = {}
        self._data = {}
        self.created = None
        self.expires = None
        self._regenerate = False

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
        self.created = created
        self.expires = expires
        self._regenerate = False
        self._invalidated_id = None

    def as_dict(self) -> dict[str, Any]:
        """A shallow copy of the data."""
        return dict(self._data)

    def __repr__(self) -> str:
        # Never the id: a repr ends up in logs, and an id in a log is a stolen session.
        state = " new" if self.is_new else ""
        return f"<Session{state} keys={sorted(self._data)}>"
