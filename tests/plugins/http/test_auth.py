"""Basic and Digest authentication, per path, htpasswd files made by libpass; curl --basic
and curl --digest on a real socket."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relays import Component
from relays.testing import MemoryTransport
from relays_http import (
    BadRequest,
    BaseServer,
    BasicAuth,
    DigestAuth,
    Htpasswd,
    Request,
    Response,
    Server,
    authenticated_user,
    parse_authorization,
)
from relays_http.testing import Client, memory_server, serve_in_thread

USERS = {"ann": "s3cret", "bob": "pässword"}


class Pages(Component):
    channel = "web"

    def request(self, request: Request, response: Response) -> Any:
        return f"hello {authenticated_user(request)} at {request.path}"


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def serve(auth: Any) -> tuple[BaseServer, MemoryTransport]:
    return memory_server(auth, Pages())


async def test_basic_lets_the_right_user_in() -> None:
    server, transport = serve(BasicAuth("staff", USERS, exclude=["/public/"]))
    async with server:
        client = Client(transport)
        missing = await client.get("/")
        assert missing.status == 401
        assert missing.headers["www-authenticate"] == 'Basic realm="staff", charset="UTF-8"'
        assert (await client.get("/", headers=basic("ann", "s3cret"))).text == "hello ann at /"
        assert (await client.get("/", headers=basic("bob", "pässword"))).status == 200
        assert (await client.get("/", headers=basic("ann", "wrong"))).status == 401
        assert (await client.get("/", headers=basic("eve", "s3cret"))).status == 401
        assert (await client.get("/", headers={"Authorization": "Bearer x"})).status == 401
        assert (await client.get("/public/x")).text == "hello None at /public/x"
        bad = await client.get("/", headers={"Authorization": "Basic !!!"})
        assert bad.status == 400


async def test_paths_limit_the_protection() -> None:
    server, transport = serve(BasicAuth("admin", USERS, paths=["/admin/"]))
    async with server:
        client = Client(transport)
        assert (await client.get("/")).status == 200
        assert (await client.get("/admin/users")).status == 401


def test_realms_with_quotes_are_refused() -> None:
    with pytest.raises(ValueError, match="quotes"):
        BasicAuth('a"b', USERS)


@pytest.fixture
def htpasswd_file(tmp_path: Path) -> Path:
    apache = pytest.importorskip("passlib.apache", reason="pip install 'relays-http[htpasswd]'")
    path = tmp_path / "users.htpasswd"
    text = ""
    for user, password, scheme in [
        ("ann", "s3cret", "bcrypt"),
        ("bob", "hunter2", "sha256_crypt"),
        ("cy", "letmein", "apr_md5_crypt"),
        ("dee", "plain-sha", "ldap_sha1"),
    ]:
        file = apache.HtpasswdFile(new=True, default_scheme=scheme)
        file.set_password(user, password)
        text += file.to_string().decode()
    path.write_text(text)
    return path


def test_htpasswd_files_made_by_libpass(htpasswd_file: Path) -> None:
    users = Htpasswd(htpasswd_file)
    lines = htpasswd_file.read_text().splitlines()
    assert [line.split(":", 1)[1][:4] for line in lines] == ["$2y$", "$5$r", "$apr", "{SHA"]
    assert users.check("ann", "s3cret")
    assert not users.check("ann", "s3cre")
    assert users.check("bob", "hunter2")
    assert users.check("cy", "letmein")
    assert users.check("dee", "plain-sha")
    assert not users.check("nobody", "s3cret")


def test_htpasswd_is_read_again_when_it_changes(htpasswd_file: Path) -> None:
    users = Htpasswd(htpasswd_file)
    digest = base64.b64encode(hashlib.sha1(b"new").digest()).decode()
    htpasswd_file.write_text(f"eve:{{SHA}}{digest}\n")
    assert users.check("eve", "new")
    assert not users.check("ann", "s3cret")


def test_unsupported_hashes_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "plain"
    path.write_text("ann:plaintext\n")
    with pytest.raises(ValueError, match="unsupported htpasswd hash"):
        Htpasswd(path).check("ann", "plaintext")
    path.write_text("no colon here\n")
    with pytest.raises(ValueError, match="user:hash"):
        Htpasswd(path)


def digest_answer(
    challenge: str,
    *,
    user: str = "ann",
    password: str = "s3cret",
    method: str = "GET",
    uri: str = "/",
    count: int = 1,
) -> dict[str, str]:
    """An Authorization field answering *challenge*, as a client computes it."""
    _, parameters = parse_authorization(challenge)
    assert isinstance(parameters, dict)
    algorithm = parameters["algorithm"]
    digest = {"SHA-256": hashlib.sha256, "MD5": hashlib.md5}[algorithm]

    def hashed(text: str) -> str:
        return digest(text.encode()).hexdigest()

    nc = f"{count:08x}"
    first = hashed(f"{user}:{parameters['realm']}:{password}")
    second = hashed(f"{method}:{uri}")
    answer = hashed(f"{first}:{parameters['nonce']}:{nc}:abc:auth:{second}")
    return {
        "Authorization": (
            f'Digest username="{user}", realm="{parameters["realm"]}", '
            f'nonce="{parameters["nonce"]}", uri="{uri}", algorithm={algorithm}, '
            f'response="{answer}", qop=auth, nc={nc}, cnonce="abc", '
            f'opaque="{parameters["opaque"]}"'
        )
    }


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_digest_challenges_and_verifies() -> None:
    clock = Clock()
    server, transport = serve(DigestAuth("staff", USERS, clock=clock))
    async with server:
        client = Client(transport)
        challenged = await client.get("/")
        assert challenged.status == 401
        challenges = challenged.headers.getall("www-authenticate")
        assert ["algorithm=SHA-256" in challenges[0], "algorithm=MD5" in challenges[1]] == [
            True,
            True,
        ]
        for count, challenge in enumerate(challenges, 1):  # one nonce: counts go up
            good = await client.get("/", headers=digest_answer(challenge, count=count))
            assert (good.status, good.text) == (200, "hello ann at /")
        wrong = await client.get("/", headers=digest_answer(challenges[0], password="no"))
        assert wrong.status == 401
        unknown = await client.get("/", headers=digest_answer(challenges[0], user="eve"))
        assert unknown.status == 401
        elsewhere = await client.get("/x", headers=digest_answer(challenges[0], uri="/"))
        assert elsewhere.status == 400


async def test_digest_refuses_replays_and_says_stale() -> None:
    clock = Clock()
    server, transport = serve(DigestAuth("staff", USERS, clock=clock, nonce_lifetime=60))
    async with server:
        client = Client(transport)
        challenge = (await client.get("/")).headers.getall("www-authenticate")[0]
        first = digest_answer(challenge, count=1)
        assert (await client.get("/", headers=first)).status == 200
        assert (await client.get("/", headers=first)).status == 401  # replayed
        assert (await client.get("/", headers=digest_answer(challenge, count=2))).status == 200
        clock.now += 61
        stale = await client.get("/", headers=digest_answer(challenge, count=3))
        assert stale.status == 401
        assert "stale=true" in stale.headers["www-authenticate"]


async def test_forged_nonces_are_challenged_again() -> None:
    server, transport = serve(DigestAuth("staff", USERS, algorithms=["MD5"]))
    other = DigestAuth("staff", USERS, algorithms=["MD5"])
    async with server:
        forged = other.challenge().headers["www-authenticate"]
        response = await Client(transport).get("/", headers=digest_answer(forged))
        assert response.status == 401


def test_parse_authorization() -> None:
    assert parse_authorization("Basic YTpi") == ("basic", "YTpi")
    assert parse_authorization('Digest a=1, b="x, \\"y\\"",c=z') == (
        "digest",
        {"a": "1", "b": 'x, "y"', "c": "z"},
    )
    for field in ("", 'Digest a="open', "Digest a=1, a=2", "Digest =x", "B@d x"):
        with pytest.raises(BadRequest):
            parse_authorization(field)


@given(st.text(max_size=200))
def test_any_field_parses_or_is_a_bad_request(field: str) -> None:
    try:
        scheme, credentials = parse_authorization(field)
    except BadRequest:
        return
    assert scheme == scheme.lower()
    assert isinstance(credentials, str | dict)


@given(
    st.dictionaries(
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz-_", min_size=1, max_size=10),
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=20),
        min_size=1,
        max_size=8,
    )
)
def test_quoted_parameters_read_back(parameters: dict[str, str]) -> None:
    field = "Digest " + ", ".join(
        f'{name}="{value.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for name, value in parameters.items()
    )
    assert parse_authorization(field) == ("digest", parameters)


@pytest.fixture
def curl() -> str:
    path = shutil.which("curl")
    if path is None:
        pytest.skip("curl is not installed (apt-get install curl)")
    return path


@pytest.fixture(params=[("SHA-256", "MD5"), ("MD5",)], ids=["sha256", "md5"])
def digest_server(request: pytest.FixtureRequest) -> Iterator[BaseServer]:
    auth = DigestAuth("staff", USERS, algorithms=request.param, paths=["/private/"])
    with serve_in_thread(Server("tcp://127.0.0.1:0") + auth + Pages()) as server:
        yield server


@pytest.mark.integration
def test_curl_digest(curl: str, digest_server: BaseServer) -> None:
    url = f"http://127.0.0.1:{digest_server.port}/private/page?x=1"

    def fetch(*options: str) -> str:
        return subprocess.run(
            [curl, "-sS", "-w", " %{http_code}", *options, url],
            capture_output=True,
            check=True,
            timeout=10,
            text=True,
        ).stdout

    assert fetch("--digest", "-u", "ann:s3cret") == "hello ann at /private/page 200"
    assert fetch("--digest", "-u", "ann:wrong").endswith(" 401")
    assert fetch().endswith(" 401")


@pytest.mark.integration
def test_curl_basic(curl: str) -> None:
    auth = BasicAuth("staff", USERS)
    with serve_in_thread(Server("tcp://127.0.0.1:0") + auth + Pages()) as server:
        url = f"http://127.0.0.1:{server.port}/"
        result = subprocess.run(
            [curl, "-sS", "-u", "ann:s3cret", url], capture_output=True, check=True, timeout=10
        )
        assert result.stdout == b"hello ann at /"
