"""A plugin for examples/circuits/plugin_app.py: a polite greeting."""

from relays import Component


class Hello(Component):
    def greet(self, name: str) -> str:
        return f"Hello, {name}."
