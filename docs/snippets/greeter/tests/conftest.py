"""Tests choose their plugins: entry points are off, so an installed plugin cannot interfere."""

import os

# Read once, when relays makes its plugin manager: that happens in the tests, after this.
os.environ["RELAYS_DISABLE_PLUGIN_AUTOLOAD"] = "1"
