"""A real Django project on relays, served by ``relays serve djsite.asgi:application``.

Views, a form POST protected by CSRF (the token from the page, the cookie kept by curl),
and the admin's login page rendered by headless Chromium.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from browser import dump_dom, needs_chromium
from relays_http.testing import run_relays

pytest.importorskip("django")

pytestmark = pytest.mark.integration

CURL = shutil.which("curl")
TIMEOUT = 20

SETTINGS = """
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "test-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "djsite.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}
USE_TZ = True
STATIC_URL = "static/"
"""

URLS = """
from django.contrib import admin
from django.http import HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.urls import path


def hello(request, name):
    return JsonResponse({"hello": name, "path": request.path, "secure": request.is_secure()})


async def async_view(request):
    return HttpResponse("async view")


def comment(request):
    if request.method == "POST":
        return HttpResponse("thanks for: " + request.POST["text"])
    token = get_token(request)
    return HttpResponse(
        '<form method="post"><input type="hidden" name="csrfmiddlewaretoken" value="%s">'
        '<input name="text"></form>' % token
    )


urlpatterns = [
    path("hello/<str:name>", hello),
    path("async", async_view),
    path("comment", comment),
    path("admin/", admin.site.urls),
]
"""

ASGI = """
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djsite.settings")
application = get_asgi_application()
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    package = tmp_path / "djsite"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "settings.py").write_text(SETTINGS)
    (package / "urls.py").write_text(URLS)
    (package / "asgi.py").write_text(ASGI)
    return tmp_path


def curl(*arguments: str) -> tuple[int, str]:
    assert CURL is not None
    done = subprocess.run(
        [CURL, "-sS", "--max-time", str(TIMEOUT), "-w", "\n%{http_code}", *arguments],
        capture_output=True,
        text=True,
        timeout=TIMEOUT + 5,
        check=True,
    )
    body, _, status = done.stdout.rpartition("\n")
    return int(status), body


@pytest.mark.skipif(CURL is None, reason="no curl installed (apt-get install curl)")
def test_views_and_a_form_post_with_csrf(project: Path) -> None:
    arguments = ("serve", "djsite.asgi:application", "--bind", "tcp://127.0.0.1:0")
    with run_relays(*arguments, cwd=project) as (_, url):
        status, body = curl(url + "hello/ann")
        assert status == 200
        assert '"hello": "ann"' in body
        assert '"path": "/hello/ann"' in body
        assert curl(url + "async") == (200, "async view")
        assert curl(url + "missing")[0] == 404

        jar = str(project / "cookies.txt")
        status, page = curl("-c", jar, url + "comment")
        found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert status == 200
        assert found is not None
        token = found.group(1)
        form = ["--data", f"csrfmiddlewaretoken={token}&text=hello+django"]
        assert curl("-b", jar, *form, url + "comment") == (200, "thanks for: hello django")
        # Without the cookie the token proves nothing: Django refuses with its 403.
        assert curl(*form, url + "comment")[0] == 403


@needs_chromium
def test_the_admin_login_page_renders_in_chromium(project: Path) -> None:
    arguments = ("serve", "djsite.asgi:application", "--bind", "tcp://127.0.0.1:0")
    with run_relays(*arguments, cwd=project) as (_, url):
        dom = dump_dom(url + "admin/login/?next=/admin/", project / "chromium")
    assert 'id="login-form"' in dom
    assert 'name="csrfmiddlewaretoken"' in dom
    assert 'name="username"' in dom
    assert 'name="password"' in dom
    assert "Django administration" in dom
