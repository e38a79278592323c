"""``safe_filename()``: whatever a client calls its upload, the name stays in its directory."""

from __future__ import annotations

import ntpath
import posixpath

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from relays_http import safe_filename
from relays_http._filenames import _DEVICES

#: Names built to be hostile: path parts, dots, separators of both systems, device names,
#: look-alikes that Unicode folding turns into separators.
hostile_parts = st.sampled_from(
    ["..", ".", "/", "\\", "C:", "CON", "nul", "com1", "LPT9", " ", "\x00", "／", "．．", "~"]  # noqa: RUF001
)
names = st.one_of(
    st.text(),
    st.lists(st.one_of(hostile_parts, st.text(max_size=5)), max_size=12).map("".join),
)


@given(names, st.integers(min_value=32, max_value=300))
@example("../../etc/passwd", 255)
@example("CON .txt", 255)
@example("CON" + " " * 300 + "x", 40)
@example("ｆｏｏ／．．／bar", 255)  # noqa: RUF001
@example("CON.abc" + "\N{GRINNING FACE}" * 10, 40)  # a device cut to exactly max_length
def test_the_name_is_always_one_plain_file_name(name: str, max_length: int) -> None:
    safe = safe_filename(name, max_length=max_length)
    assert safe  # never empty
    assert not {"/", "\\", "\x00"} & set(safe)
    assert ".." not in safe
    assert safe == safe.strip(". ")  # Windows would change such a name
    assert safe.split(".", 1)[0].rstrip(" ").upper() not in _DEVICES
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in safe)
    assert not set(safe) & set('<>:"|?*')
    assert len(safe.encode("utf-8")) <= max_length
    # Joined to a directory, it names a file right in it, on either system.
    assert posixpath.dirname(posixpath.normpath(posixpath.join("/base", safe))) == "/base"
    assert ntpath.dirname(ntpath.normpath(ntpath.join("C:\\base", safe))) == "C:\\base"
    assert safe_filename(safe, max_length=max_length) == safe  # already safe: kept


@given(
    st.from_regex(r"[A-Za-z0-9_-]{1,40}", fullmatch=True),
    st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True),
)
def test_an_ordinary_name_is_kept(stem: str, extension: str) -> None:
    name = f"{stem}.{extension}"
    if stem.upper() in _DEVICES:
        assert safe_filename(name) == "_" + name
    else:
        assert safe_filename(name) == name


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\photo.jpg", "photo.jpg"),
        ("con.txt", "_con.txt"),
        ("NUL", "_NUL"),
        (".bashrc", "bashrc"),
        ("report..pdf", "report.pdf"),
        ("a:b?.txt", "a_b_.txt"),
        ("résumé.pdf", "résumé.pdf"),
        ("", "upload"),
        (None, "upload"),
        ("...", "upload"),
    ],
)
def test_examples(name: str | None, safe: str) -> None:
    assert safe_filename(name) == safe


def test_a_long_name_keeps_its_extension() -> None:
    safe = safe_filename("x" * 300 + ".jpeg", max_length=64)
    assert safe.endswith(".jpeg")
    assert len(safe.encode()) <= 64


def test_the_default_is_given_back_and_must_be_safe() -> None:
    assert safe_filename("..", default="file.bin") == "file.bin"
    with pytest.raises(ValueError, match="not safe itself"):
        safe_filename("..", default="../x")
    with pytest.raises(ValueError, match="max_length must be at least 32"):
        safe_filename("a", max_length=8)
