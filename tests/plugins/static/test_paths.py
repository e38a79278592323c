"""Safe path resolution: every way out of the docroot is refused, checked with hypothesis."""

from __future__ import annotations

import os
import pathlib
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relays_http import Forbidden, Headers, HTTPError, Request, Response
from relays_static import Static
from relays_static._paths import PathRefused, resolve_path, split_url_path


@pytest.mark.parametrize(
    ("raw", "segments"),
    [
        ("/", []),
        ("/a/b.txt", ["a", "b.txt"]),
        ("//a///b/", ["a", "b"]),
        ("/./a/./b", ["a", "b"]),
        ("/a%20b/c%C3%A9", ["a b", "cé"]),
        ("/.well-known/x", [".well-known", "x"]),
    ],
)
def test_plain_paths_split_into_segments(raw: str, segments: list[str]) -> None:
    assert split_url_path(raw) == segments


@pytest.mark.parametrize(
    "raw",
    [
        "/../etc/passwd",
        "/a/../../b",
        "/%2e%2e/etc/passwd",
        "/%2E%2E/x",
        "/a/%2e%2e",
        "/a%2fb",
        "/a%2F..%2Fb",
        "/..%5cwindows",
        "/a\\b",
        "/a%00.txt",
        "/a%0d%0a",
        "/C:/Windows",
        "/c%3a/x",
        "/.git/config",
        "/.secret",
        "/%ff%fe",
    ],
)
def test_ways_out_are_refused(raw: str) -> None:
    with pytest.raises(PathRefused):
        split_url_path(raw)


def test_hidden_files_when_allowed() -> None:
    assert split_url_path("/.git/config", hidden_files=True) == [".git", "config"]
    with pytest.raises(PathRefused):
        split_url_path("/../x", hidden_files=True)


def test_symlinks_leaving_the_root_are_forbidden(docroot: pathlib.Path) -> None:
    root = os.path.realpath(docroot)
    with pytest.raises(Forbidden):
        resolve_path(root, ["escape.txt"])
    real, _ = resolve_path(root, ["inside-link.txt"])
    assert real == os.path.join(root, "hello.txt")
    with pytest.raises(Forbidden):
        resolve_path(root, ["inside-link.txt"], follow_symlinks=False)
    assert resolve_path(root, ["hello.txt"], follow_symlinks=False)[0] == os.path.join(
        root, "hello.txt"
    )


def test_a_symlinked_directory_leaving_the_root_is_forbidden(
    docroot: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    (docroot / "etc").symlink_to("/etc")
    with pytest.raises(Forbidden):
        resolve_path(os.path.realpath(docroot), ["etc", "passwd"])


# Segments built from the characters attacks use, raw or percent-encoded.
_pieces = st.sampled_from(
    [
        ".",
        "..",
        "/",
        "\\",
        "\x00",
        "%2e",
        "%2E",
        "%2f",
        "%5c",
        "%00",
        "a",
        "b",
        "~",
        ":",
        "C:",
        "%",
        "%%",
        "%c0%ae",
        "etc",
        "passwd",
        " ",
        "%20",
        "\n",
        "escape.txt",
        "css",
        "up",
    ]
)
_paths = st.lists(_pieces, max_size=12).map(lambda parts: "/" + "".join(parts))
_encoded = st.lists(st.text(max_size=6), max_size=6).map(
    lambda parts: "/" + "/".join(quote(part, safe="") for part in parts)
)


@settings(max_examples=500, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.one_of(_paths, _encoded, st.text(max_size=40)))
def test_any_path_stays_inside_or_is_refused(docroot: pathlib.Path, raw: str) -> None:
    root = os.path.realpath(docroot)
    if not (docroot / "up").exists():
        (docroot / "up").symlink_to(docroot.parent)  # a directory link leading out
    try:
        segments = split_url_path(raw)
    except PathRefused:
        return
    for segment in segments:
        assert segment not in ("", ".", "..")
        assert "/" not in segment
        assert "\\" not in segment
        assert "\x00" not in segment
    try:
        path, found = resolve_path(root, segments)
    except Forbidden:
        return
    real = os.path.realpath(path)
    assert real == root or real.startswith(root + os.sep)
    if found is not None:
        assert os.path.samestat(found, os.stat(real))


_request_paths = st.one_of(_paths, _encoded).map(lambda path: path or "/")


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=_request_paths, method=st.sampled_from(["GET", "HEAD", "POST"]))
def test_static_never_serves_what_is_outside(docroot: pathlib.Path, raw: str, method: str) -> None:
    """Whatever the path, Static answers a 3xx/4xx, passes, or serves a file inside."""
    if not (docroot / "up").exists():
        (docroot / "up").symlink_to(docroot.parent)
    static = Static("/", docroot=docroot)
    request = Request(method, raw, headers=Headers({"Host": "test"}))
    answer = static.answer(request, Response(), request.raw_path)
    if answer is None:
        return
    if isinstance(answer, HTTPError):
        assert answer.code in (301, 403, 404, 405)
        if answer.code == 301:
            assert answer.headers["Location"].startswith("/")
            assert not answer.headers["Location"].startswith("//")
        return
    assert isinstance(answer, Response)
    assert answer.status == 200
    body = answer.body if isinstance(answer.body, bytes) else b""
    assert b"OUTSIDE-SECRET" not in body
