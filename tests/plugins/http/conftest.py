"""Make ``relays_http`` importable from the source tree until it is installed."""

import importlib.util
import pathlib
import sys

if importlib.util.find_spec("relays_http") is None:
    sys.path.insert(0, str(pathlib.Path(__file__).parents[3] / "plugins" / "http" / "src"))
