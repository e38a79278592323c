"""The Loader imports modules by name and registers the component each offers."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from relays import Component, Load, Loader, LoadError
from relays.testing import Manager, Recorder

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "circuits"


@pytest.fixture
def plugin_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder of plugin modules with names no other test uses; forgotten afterwards."""
    (tmp_path / "relays_test_one.py").write_text(
        textwrap.dedent(
            """
            from relays import Component
            class One(Component):
                def __init__(self, *, label="one"):
                    super().__init__()
                    self.label = label
                def ping(self):
                    return self.label
            """
        )
    )
    (tmp_path / "relays_test_two.py").write_text(
        "from relays import Component\nclass A(Component): pass\nclass B(Component): pass\n"
    )
    (tmp_path / "relays_test_none.py").write_text("from relays import Component\n")
    yield tmp_path
    for name in ("relays_test_one", "relays_test_two", "relays_test_none"):
        sys.modules.pop(name, None)
    with contextlib.suppress(ValueError):
        sys.path.remove(str(tmp_path.resolve()))


async def test_load_registers_the_modules_component(manager: Manager, plugin_folder: Path) -> None:
    recorder = Recorder().register(manager)
    loader = Loader([plugin_folder], init_kwargs={"label": "first"}).register(manager)
    component = await manager.call(Load("relays_test_one"), "loader")
    assert type(component).__name__ == "One"
    assert component.parent is loader
    assert component.label == "first"
    [loaded] = await recorder.until("loaded")
    assert loaded.args == ("relays_test_one", component)
    assert await manager.call(Load("relays_test_one"), "loader") is component  # once


async def test_a_missing_module_is_an_error_naming_it(
    manager: Manager, plugin_folder: Path
) -> None:
    Loader([plugin_folder]).register(manager)
    with pytest.raises(LoadError, match="no module named 'relays_test_missing'"):
        await manager.call(Load("relays_test_missing"), "loader")


@pytest.mark.parametrize(
    ("module", "message"),
    [("relays_test_two", r"2 components \(A, B\)"), ("relays_test_none", "no component")],
)
async def test_a_module_must_offer_exactly_one_component(
    manager: Manager, plugin_folder: Path, module: str, message: str
) -> None:
    Loader([plugin_folder]).register(manager)
    with pytest.raises(LoadError, match=message):
        await manager.call(Load(module), "loader")


def test_the_plugin_app_example_loads_and_greets() -> None:
    spec = importlib.util.spec_from_file_location("plugin_app", EXAMPLES / "plugin_app.py")
    assert spec is not None
    assert spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    output = io.StringIO()
    app = example.PluginApp(["hello", "shout"])
    try:
        with contextlib.redirect_stdout(output):
            app.run()
    finally:
        for name in ("hello", "shout"):
            sys.modules.pop(name, None)
    assert output.getvalue().splitlines() == ["Hello, world.", "HEY HEY WORLD!"]
    assert isinstance(app.loader.loaded["hello"], Component)
