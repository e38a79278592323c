"""relays.BoundedCache: the one bounded memory of the house's hot paths."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relays import BoundedCache

keys = st.one_of(
    st.binary(max_size=20),
    st.text(max_size=20),
    st.integers(),
    st.tuples(st.text(max_size=5), st.integers()),
)


def test_it_remembers_and_answers_like_a_dict() -> None:
    cache: BoundedCache[str, int] = BoundedCache(3, "numbers")
    assert cache.get("a") is None
    assert cache.remember("a", 1) == 1
    assert cache.get("a") == 1
    assert "a" in cache
    assert "b" not in cache
    assert list(cache) == ["a"]
    assert len(cache) == 1
    assert repr(cache) == "<BoundedCache numbers: 1 of 3>"


def test_a_remembered_none_is_told_from_an_unknown_key_by_a_default() -> None:
    cache: BoundedCache[str, Any] = BoundedCache(2)
    cache.remember("nobody", None)
    unknown = object()
    assert cache.get("nobody", unknown) is None
    assert cache.get("other", unknown) is unknown


def test_a_new_key_past_the_size_empties_it_first() -> None:
    cache: BoundedCache[int, int] = BoundedCache(2)
    cache.remember(1, 1)
    cache.remember(2, 2)
    cache.remember(2, 20)  # a known key replaces its answer: nothing is evicted
    assert (cache.get(1), cache.get(2)) == (1, 20)
    cache.remember(3, 3)
    assert list(cache) == [3]
    lookup = cache.get
    cache.remember(4, 4)
    assert lookup(4) == 4  # ``get`` taken before stays bound to the live entries


def test_clear_forgets_everything() -> None:
    cache: BoundedCache[int, int] = BoundedCache(4)
    cache.remember(1, 1)
    cache.clear()
    assert len(cache) == 0
    assert cache.get(1) is None


@pytest.mark.parametrize("size", [0, -1])
def test_a_size_below_one_is_refused(size: int) -> None:
    with pytest.raises(ValueError, match="at least 1 entry"):
        BoundedCache(size, "nothing")


@given(size=st.integers(1, 8), inserted=st.lists(st.tuples(keys, st.integers()), max_size=60))
def test_it_never_holds_more_than_its_size_and_the_last_answer_is_kept(
    size: int, inserted: list[tuple[Any, int]]
) -> None:
    cache: BoundedCache[Any, int] = BoundedCache(size)
    for key, value in inserted:
        assert cache.remember(key, value) == value
        assert len(cache) <= size
        assert cache.get(key) == value  # what was just remembered is there
    for key in cache:  # and whatever is there is the latest answer for its key
        assert cache.get(key) == [v for k, v in inserted if k == key][-1]
