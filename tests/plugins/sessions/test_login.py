"""SessionLogin: a form login kept in the session, rotated on login; driven by curl with a
cookie jar on a real socket, and by the in-memory client."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from relays import Component
from relays_http import Request, Response, Server, authenticated_user
from relays_http.testing import Client, memory_server, serve_in_thread
from relays_sessions import SessionLogin, Sessions

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class Pages(Component):
    channel = "web"

    def request(self, request: Request, response: Response) -> Any:
        return f"{request.method} {request.path} for {authenticated_user(request)}"


def site() -> tuple[Any, Any]:
    login = SessionLogin({"ann": "s3cret"}, exclude=["/public/"])
    return memory_server(Sessions(secret="a test secret, long enough"), login, Pages())


def cookie_of(response: Any) -> str:
    value = response.headers["set-cookie"]
    return value.split(";", 1)[0]


async def test_sign_in_rotates_the_session_and_goes_back() -> None:
    server, transport = site()
    async with server:
        client = Client(transport)
        redirected = await client.get("/reports?year=2026")
        assert redirected.status == 303
        assert redirected.headers["location"] == "/login?next=/reports%3Fyear%3D2026"
        form = await client.get(redirected.headers["location"])
        assert "name='next' value='/reports?year=2026'" in form.text
        planted = "session=planted"
        body = urlencode({"username": "ann", "password": "s3cret", "next": "/reports?year=2026"})
        signed_in = await client.post("/login", body.encode(), headers={**FORM, "Cookie": planted})
        assert (signed_in.status, signed_in.headers["location"]) == (303, "/reports?year=2026")
        cookie = cookie_of(signed_in)
        assert cookie != planted
        page = await client.get("/reports", headers={"Cookie": cookie})
        assert page.text == "GET /reports for ann"
        out = await client.get("/logout", headers={"Cookie": cookie})
        assert out.status == 303
        again = await client.get("/reports", headers={"Cookie": cookie})
        assert again.status == 303


async def test_wrong_passwords_and_unsafe_next() -> None:
    server, transport = site()
    async with server:
        client = Client(transport)
        body = urlencode({"username": "ann", "password": "nope", "next": "/x"}).encode()
        wrong = await client.post("/login", body, headers=FORM)
        assert (wrong.status, "wrong user name or password" in wrong.text) == (200, True)
        assert "set-cookie" not in wrong.headers
        body = urlencode({"username": "ann", "password": "s3cret", "next": "//evil.example"})
        right = await client.post("/login", body.encode(), headers=FORM)
        assert right.headers["location"] == "/"


async def test_open_paths_and_other_methods() -> None:
    server, transport = site()
    async with server:
        client = Client(transport)
        assert (await client.get("/public/a")).text == "GET /public/a for None"
        assert (await client.post("/reports")).status == 403


@pytest.mark.integration
def test_curl_with_a_cookie_jar(tmp_path: Path) -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed (apt-get install curl)")
    jar = str(tmp_path / "jar")
    server = (
        Server("tcp://127.0.0.1:0")
        + Sessions(secret="a test secret, long enough")
        + SessionLogin({"ann": "s3cret"})
    )
    with serve_in_thread(server + Pages()) as running:
        base = f"http://127.0.0.1:{running.port}"

        def curl_run(*options: str) -> str:
            return subprocess.run(
                [curl, "-sS", "-L", "-b", jar, "-c", jar, *options],
                capture_output=True,
                check=True,
                timeout=10,
                text=True,
            ).stdout

        assert re.search(r"<form method='post'", curl_run(f"{base}/reports"))
        page = curl_run(
            "-d",
            "username=ann",
            "-d",
            "password=s3cret",
            "-d",
            "next=/reports",
            f"{base}/login",
        )
        assert page == "GET /reports for ann"
        assert curl_run(f"{base}/other") == "GET /other for ann"
