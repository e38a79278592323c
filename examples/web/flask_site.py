"""A Flask application, served by relays: ``relays serve flask_site:app``.

Nothing here knows about relays: ``relays serve`` sees a WSGI callable (it takes
``environ`` and ``start_response``) and serves it through relays-http's Gateway.
"""

import flask

app = flask.Flask(__name__)


@app.get("/hello/<name>")
def hello(name: str) -> dict[str, str]:
    return {"hello": name}


@app.post("/echo")
def echo() -> bytes:
    return flask.request.get_data()


def create_app() -> flask.Flask:
    """A factory works too: ``relays serve flask_site:create_app``."""
    return app
