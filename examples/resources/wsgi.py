"""WSGI: a WSGI application as a leaf of the tree, run on a thread pool.

Below ``/app``, the application sees ``/app`` as its ``SCRIPT_NAME`` and the rest of
the path as ``PATH_INFO``.
"""

from relays_resources import Resource, WSGIResource


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"WSGI at {environ['SCRIPT_NAME']} for {environ['PATH_INFO']}".encode()]


root = Resource()
root.putChild(b"app", WSGIResource(application))
