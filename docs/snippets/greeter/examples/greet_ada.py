"""An application that asks for the greeter plugin's dispatcher by name, never by import."""

from relays import Component, Event, find_dispatcher


class Hello(Event):
    """Ask for a greeting: ``hello(name)``."""


class App(Component):
    async def started(self, component: Component) -> None:
        print(await self.call(Hello("Ada"), "greeter"))
        self.stop()


app = App() + find_dispatcher("greeter")()

if __name__ == "__main__":
    app.run()
