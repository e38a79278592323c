"""Masking: the pure-Python paths (integer and translate) and the C path agree."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relays_websocket import apply_mask
from relays_websocket._masking import (
    TRANSLATE_FROM,
    apply_mask_python,
    c_apply_mask,
    fastest_apply_mask,
)


def slow_mask(data: bytes, mask: bytes) -> bytes:
    return bytes(byte ^ mask[index % 4] for index, byte in enumerate(data))


@settings(deadline=None)
@given(st.binary(max_size=3 * TRANSLATE_FROM), st.binary(min_size=4, max_size=4))
def test_every_path_masks_like_the_rfc_says(data: bytes, mask: bytes) -> None:
    expected = slow_mask(data, mask)
    assert apply_mask_python(data, mask) == expected
    assert apply_mask_python(bytearray(data), bytearray(mask)) == expected
    assert apply_mask(memoryview(data), mask) == expected
    if c_apply_mask is not None:
        assert c_apply_mask(data, mask) == expected


def test_masking_twice_gives_the_data_back() -> None:
    data = bytes(range(256)) * 300
    assert apply_mask(apply_mask(data, b"\x01\x02\x03\x04"), b"\x01\x02\x03\x04") == data


def test_the_c_path_is_used_when_the_websockets_library_is_installed() -> None:
    pytest.importorskip("websockets.speedups", reason="websockets' C extension is missing")
    assert fastest_apply_mask is c_apply_mask
