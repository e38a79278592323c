"""The relays-asgi tests share the scopes they hand an app, ``asgi_scopes.py`` beside this."""

import sys
from pathlib import Path

# pytest imports test files in importlib mode (no sys.path change), so the shared helper's
# folder is put on the path here, once, for every test of this folder.
sys.path.insert(0, str(Path(__file__).resolve().parent))
