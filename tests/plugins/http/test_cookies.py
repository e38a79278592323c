"""Reading Cookie fields never fails; writing Set-Cookie never lets input escape."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from relays_http import Cookie
from relays_http._cookies import parse_cookie_header


def test_parse() -> None:
    assert parse_cookie_header('a=1; b = "x y" ;c=;d=e=f; =no; bad name=1') == {
        "a": "1",
        "b": "x y",
        "c": "",
        "d": "e=f",
    }


@given(st.text(max_size=200))
def test_any_cookie_header_parses(value: str) -> None:
    cookies = parse_cookie_header(value)
    assert all(";" not in name and "=" not in name for name in cookies)


@pytest.mark.parametrize("value", ['"', '"a', 'a"', 'a"b', '""""'])
def test_a_value_is_quoted_on_both_sides_or_not_at_all(value: str) -> None:
    with pytest.raises(ValueError, match="quotes"):
        Cookie("name", value)
    assert Cookie("name", '"a"').render().startswith('name="a";')


@given(st.text(max_size=30), st.text(max_size=30), st.text(max_size=30))
@example(name="0", value='"', path="")
def test_a_cookie_either_refuses_or_renders_one_safe_line(
    name: str, value: str, path: str
) -> None:
    try:
        cookie = Cookie(name, value, path=path)
    except ValueError:
        return
    rendered = cookie.render()
    assert not any(character in rendered for character in "\r\n\x00")
    assert rendered.count(";") == 1  # only the one before Path
    assert parse_cookie_header(rendered)[name] == value.strip('"')
