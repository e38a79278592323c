"""The installed version of the ``relays`` distribution."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("relays")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
