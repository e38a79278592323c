"""The docs tests share one reader of code blocks, ``docs_code_blocks.py`` beside this file."""

import sys
from pathlib import Path

# pytest imports test files in importlib mode (no sys.path change), so the shared reader's
# folder is put on the path here, once, for every test of this folder.
sys.path.insert(0, str(Path(__file__).resolve().parent))
