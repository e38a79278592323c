"""Sessions in controllers, sync and async: ``relays serve cart:Root --session-store memory://``."""

from relays_http import Controller
from relays_sessions import session_of


class Root(Controller):
    def index(self) -> str:  # sync: the first use loads the session
        session = session_of(self.request)
        session["visits"] = session.get("visits", 0) + 1
        return f"visit {session['visits']}"

    async def cart(self) -> str:  # async: await the load, then use it as a dict
        session = await session_of(self.request).load()
        items = session.setdefault("cart", [])
        return f"{len(items)} items"

    def health(self) -> str:  # never looks at the session: no store access at all
        return "ok"
