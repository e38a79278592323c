"""Form bodies: urlencoded and multipart, limits, spooling, and hostile input."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relays_http import FormError, HTTPError, Limits, PayloadTooLarge, Request
from relays_http._forms import parse_multipart, parse_urlencoded

BOUNDARY = "xYzZy"


def multipart(*parts: tuple[str, bytes]) -> bytes:
    out = b"preamble\r\n"
    for head, content in parts:
        out += f"--{BOUNDARY}\r\n{head}\r\n\r\n".encode() + content + b"\r\n"
    return out + f"--{BOUNDARY}--\r\nepilogue".encode()


def test_urlencoded() -> None:
    form = parse_urlencoded(b"a=1&b=x+y%21&a=2&empty=&flag&&%C3%A9=%C3%A9")
    assert form.getall("a") == ["1", "2"]
    assert form["b"] == "x y!"
    assert form["empty"] == form["flag"] == ""
    assert form["é"] == "é"
    assert "a" in form
    assert form.get("nope") is None


def test_urlencoded_errors_name_the_field() -> None:
    with pytest.raises(FormError, match="'name'"):
        parse_urlencoded(b"name=%ff")
    with pytest.raises(ValueError, match="UTF-8"):
        parse_urlencoded(b"%ff=1")
    with pytest.raises(PayloadTooLarge, match="'big'"):
        parse_urlencoded(b"big=" + b"x" * 20, Limits(max_form_field_size=10))
    with pytest.raises(PayloadTooLarge, match="more than 2 fields"):
        parse_urlencoded(b"a=1&b=2&c=3", Limits(max_form_fields=2))


def test_multipart_fields_and_files() -> None:
    body = multipart(
        ('Content-Disposition: form-data; name="title"', "héllo".encode()),
        (
            'Content-Disposition: form-data; name="upload"; filename="a \\"b\\".txt"\r\n'
            "Content-Type: text/plain",
            b"line one\r\nline two\r\n--not-a-boundary",
        ),
        (
            "Content-Disposition: form-data; name=second; filename*=UTF-8''%E2%82%AC.bin",
            b"",
        ),
    )
    form = parse_multipart(io.BytesIO(body), BOUNDARY)
    assert form["title"] == "héllo"
    upload = form.file("upload")
    assert upload is not None
    assert (upload.filename, upload.content_type) == ('a "b".txt', "text/plain")
    assert upload.read() == b"line one\r\nline two\r\n--not-a-boundary"
    assert upload.size == len(upload.read())
    second = form.file("second")
    assert second is not None
    assert (second.filename, second.size, second.content_type) == (
        "€.bin",
        0,
        "application/octet-stream",
    )
    form.close()


def test_multipart_files_spool_to_disk() -> None:
    data = b"0123456789" * 1000
    body = multipart(('Content-Disposition: form-data; name="f"; filename="big"', data))
    limits = Limits(spool_threshold=100)
    form = parse_multipart(io.BytesIO(body), BOUNDARY, limits)
    upload = form.file("f")
    assert upload is not None
    assert upload.file._rolled  # type: ignore[attr-defined]
    assert upload.read() == data
    form.close()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"no boundary here", "no boundary line"),
        (f"--{BOUNDARY}\r\n".encode(), "ends inside"),
        (f"--{BOUNDARY}\r\nContent-Type: x\r\n\r\nabc".encode(), "form-data"),
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="f"\r\n\r\nabc'.encode(),
            "'f' is not ended",
        ),
        (f"--{BOUNDARY}\r\nContent-Disposition: form-data\r\n\r\nx".encode(), "no field name"),
        (f"--{BOUNDARY}x\r\n".encode(), "malformed multipart boundary"),
    ],
)
def test_multipart_errors(body: bytes, message: str) -> None:
    with pytest.raises(FormError, match=message):
        parse_multipart(io.BytesIO(body), BOUNDARY)


def test_multipart_limits() -> None:
    body = multipart(('Content-Disposition: form-data; name="f"', b"x" * 50))
    with pytest.raises(PayloadTooLarge, match="'f'"):
        parse_multipart(io.BytesIO(body), BOUNDARY, Limits(max_form_field_size=10))
    many = multipart(*[('Content-Disposition: form-data; name="f"', b"x")] * 3)
    with pytest.raises(PayloadTooLarge, match="more than 2"):
        parse_multipart(io.BytesIO(many), BOUNDARY, Limits(max_form_fields=2))
    with pytest.raises(FormError, match="boundary"):
        parse_multipart(io.BytesIO(body), "bad boundary ")


async def test_request_form_by_content_type() -> None:
    urlencoded = Request(
        "POST",
        "/",
        headers=[(b"content-type", b"application/x-www-form-urlencoded")],
        body=b"a=1",
    )
    assert (await urlencoded.form())["a"] == "1"
    body = multipart(('Content-Disposition: form-data; name="a"', b"2"))
    content_type = f'multipart/form-data; boundary="{BOUNDARY}"'.encode()
    multi = Request("POST", "/", headers=[(b"content-type", content_type)], body=body)
    assert (await multi.form())["a"] == "2"
    other = Request("POST", "/", body=b"a=1")
    assert "a" not in await other.form()
    missing = Request("POST", "/", headers=[(b"content-type", b"multipart/form-data")])
    with pytest.raises(FormError, match="boundary"):
        await missing.form()


@given(st.binary(max_size=300))
def test_any_urlencoded_input_parses_or_is_a_4xx(data: bytes) -> None:
    try:
        parse_urlencoded(data, Limits(max_form_fields=20, max_form_field_size=50))
    except HTTPError as error:
        code = error.code
    else:
        code = 400
    assert 400 <= code < 500


_pieces = st.sampled_from(
    [
        f"--{BOUNDARY}".encode(),
        f"\r\n--{BOUNDARY}".encode(),
        b"--",
        b"\r\n",
        b"\r\n\r\n",
        b"Content-Disposition: form-data",
        b'; name="a"',
        b'; filename="f"',
        b"; filename*=UTF-8''%ff",
        b"Content-Type: text/plain",
        b"\xff",
        b" ",
        b"x",
    ]
)


@given(st.lists(_pieces | st.binary(max_size=8), max_size=30).map(b"".join))
def test_any_multipart_input_parses_or_is_a_4xx(data: bytes) -> None:
    try:
        form = parse_multipart(io.BytesIO(data), BOUNDARY, Limits(max_form_fields=5))
    except HTTPError as error:
        code = error.code
    else:
        form.close()
        code = 400
    assert 400 <= code < 500
