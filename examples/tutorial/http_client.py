"""A component calls an HTTP API: requests and responses as events.

The :class:`~relays_http.client.Client` component answers ``request`` events fired on its
channel (``"client"``) with ``response`` events on that channel, the body already read.
Here the API is served by the same program (a JSON controller on a port the system
picks), so the lesson runs anywhere; point the URL elsewhere and nothing else changes.

``await self.call(...)`` would give the response straight back; firing and answering
a ``response`` handler is the circuits way, and lets any component in the tree listen.
"""

from relays import BaseComponent, Component, handler
from relays_http import JSONController, Server
from relays_http.client import Client, ClientRequest, Response


class Weather(JSONController):
    channel = "/weather"

    def index(self, city: str = "Paris") -> dict[str, str]:
        return {"city": city, "sky": "clear"}


class Forecaster(Component):
    def __init__(self) -> None:
        super().__init__()
        self.server = Server("tcp://127.0.0.1:0").register(self)
        Weather().register(self.server)
        Client().register(self)

    async def started(self, component: BaseComponent) -> None:
        await self.server.wait_ready()
        url = f"{self.server.url}weather"
        self.fire(ClientRequest("GET", url, params={"city": "Lyon"}), "client")

    @handler("response", channel="client")
    def response(self, response: Response) -> None:
        print(response.status_code, response.headers["content-type"])
        forecast = response.json()
        print(f"The sky over {forecast['city']} is {forecast['sky']}.")
        self.stop()

    @handler("request_failed", channel="client")
    def request_failed(self, method: str, url: str, error: Exception) -> None:
        print(f"{method} {url} failed: {error}")
        self.stop()


if __name__ == "__main__":
    Forecaster().run()
