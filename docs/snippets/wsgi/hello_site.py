"""A relays tree served by a WSGI server such as gunicorn: ``gunicorn hello_site:application``.

The module has a name of its own on purpose. Python imports its standard ``site`` module at
start-up, before gunicorn looks for yours, so an application kept in ``site.py`` is never
found ("Failed to find attribute 'application' in 'site'"); the same goes for any name of the
standard library (``code``, ``test``, ``http``...).
"""

from relays_http import Application, Controller, Dispatcher


class Root(Controller):
    def index(self) -> str:
        return "Hello from relays, behind a WSGI server"

    def hello(self, name: str = "you") -> dict[str, str]:
        return {"greeting": f"Hello, {name}!"}


application = Application(timeout=30) + Dispatcher() + Root()
