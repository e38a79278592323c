"""relays-greeter: the components an application may also use directly, without a lookup."""

from ._greeter import Greeter, Shout

__all__ = ["Greeter", "Shout"]
