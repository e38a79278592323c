"""Where ``Server`` and ``relays serve`` listen: URLs refused with advice, abstract UNIX
sockets, inherited sockets (``fd://``, systemd), and the startup line in each case."""

from __future__ import annotations

import pytest

from relays._cli import main
from relays_http import Server


@pytest.mark.parametrize(
    ("bind", "advice"),
    [
        ("http://127.0.0.1:8000", "use 'tcp://127.0.0.1:8000'"),
        ("http://127.0.0.1:8000/", "use 'tcp://127.0.0.1:8000'"),
        ("https://[::1]:8443", "use 'tls://[::1]:8443' (with certfile= and keyfile=)"),
    ],
)
def test_an_http_url_is_refused_with_the_transport_address_to_use(bind: str, advice: str) -> None:
    with pytest.raises(ValueError, match=r"not a https?:// URL") as caught:
        Server(bind)
    assert advice in str(caught.value)


def test_relays_serve_says_it_too(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--bind", "http://127.0.0.1:8000"]) == 2
    assert "use 'tcp://127.0.0.1:8000'" in capsys.readouterr().err
