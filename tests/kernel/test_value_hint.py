"""``value.value`` (circuits' name) says what to use, without slowing every value down."""

from __future__ import annotations

import pytest

from relays import Value
from relays.testing import Manager


async def test_circuits_value_attribute_names_the_relays_one(manager: Manager) -> None:
    from relays import Event

    value = manager.fire(Event.create("nobody"))
    with pytest.raises(AttributeError, match=r"read \.result, or await it"):
        _ = value.value
    assert not hasattr(value, "value")
    with pytest.raises(AttributeError, match="no attribute 'other'"):
        _ = value.other  # type: ignore[attr-defined]


def test_value_keeps_the_fast_attribute_access() -> None:
    # CPython specialises attribute reads only for classes without ``__getattr__``; the
    # dispatcher reads a value's fields on every event.
    assert "__getattr__" not in vars(Value)
