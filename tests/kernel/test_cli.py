"""The relays command: plugins, run, graph, and commands added by plugins."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from relays import BaseComponent, Component, load_app
from relays._cli import main
from relays._plugins import plugin_manager, reset_plugin_manager
from relays.hookspecs import hookimpl


@pytest.fixture(autouse=True)
def fresh_manager() -> Iterator[None]:
    reset_plugin_manager()
    yield
    reset_plugin_manager()


@pytest.fixture
def app_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "tinyapp.py").write_text(
        textwrap.dedent(
            """
            from relays import Component

            class Child(Component):
                channel = "child"

            class App(Component):
                def __init__(self):
                    super().__init__()
                    Child().register(self)

                def started(self, component):
                    print("app started", flush=True)
                    self.stop()

            def make():
                return App()

            not_a_component = 42
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "tinyapp"


def test_graph_command(app_module: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", f"{app_module}:make"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("* <App/* ")
    assert lines[1].startswith(" * <Child/child ")


def test_graph_dot(app_module: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", f"{app_module}:App", "--format", "dot"]) == 0
    assert '"App-0" -> "Child-1";' in capsys.readouterr().out


def test_run_command_runs_until_stopped(
    app_module: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", f"{app_module}:make"]) == 0
    assert "app started" in capsys.readouterr().out


def test_run_with_debug_prints_events(app_module: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", f"{app_module}:make", "--debug"]) == 0
    assert "<Started[*:started]" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("tinyapp", "expected 'module:factory'"),
        ("tinyapp:missing", "has no attribute 'missing'"),
        ("tinyapp:not_a_component", "is not a component"),
        ("no_such_module_here:app", "no module named"),
    ],
)
def test_bad_targets_are_clear_errors(
    app_module: str, target: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["graph", target]) == 2
    assert message in capsys.readouterr().err


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "plugins" in capsys.readouterr().out


def test_plugin_commands_and_options_are_added(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("relays_example")
    from relays_example import plugin

    assert main(["hello", "world"]) == 0
    assert capsys.readouterr().out == "Hello, world!\n"
    assert "hello" in plugin.CONFIGURED
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    assert "--example-flag" in capsys.readouterr().out


def test_console_script_is_installed() -> None:
    result = subprocess.run(
        [Path(sys.executable).with_name("relays"), "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout.startswith("relays ")


def test_run_a_file_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "script_app.py"
    script.write_text(
        "from relays import Component\n"
        "class App(Component):\n"
        "    def started(self, c):\n"
        "        print('file app', flush=True)\n"
        "        self.stop()\n"
    )
    assert main(["run", f"{script}:App"]) == 0
    assert "file app" in capsys.readouterr().out


def test_a_configure_hook_refusing_options_is_a_clear_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from relays import register_plugin
    from relays.hookspecs import hookimpl

    class Picky:
        @hookimpl
        def relays_configure(self, config: object) -> None:
            raise ValueError("--level must be one of debug, info")

    register_plugin(Picky(), name="picky")
    assert main(["plugins"]) == 2
    assert "relays plugins: error: --level must be one of debug, info" in capsys.readouterr().err


class _Shaped:
    """An app of a foreign kind: only a plugin that knows the shape can serve it."""


class _ShapeAdapter:
    """A plugin that wraps :class:`_Shaped` objects in a component."""

    @hookimpl
    def relays_adapt_app(self, app: object) -> BaseComponent | None:
        if isinstance(app, _Shaped):
            return Component(channel="adapted")
        return None


@pytest.fixture
def shape_adapter() -> Iterator[None]:
    plugin = _ShapeAdapter()
    plugin_manager().register(plugin)
    try:
        yield
    finally:
        plugin_manager().unregister(plugin)


def test_a_plugin_adapts_an_app_that_is_not_a_component(
    shape_adapter: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "foreign.py").write_text(
        f"from {__name__} import _Shaped\napp = _Shaped()\ndef make():\n    return _Shaped()\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    # The object itself, and what a factory returns, are both offered to the plugins.
    assert load_app("foreign:app").channel == "adapted"
    assert load_app("foreign:make").channel == "adapted"


def test_an_app_no_plugin_adapts_names_the_plugins_that_could(app_module: str) -> None:
    with pytest.raises(ValueError, match="relays-asgi"):
        load_app(f"{app_module}:not_a_component")


def test_graph_svg_to_a_file(app_module: str, tmp_path: Path) -> None:
    target = tmp_path / "tree.svg"
    assert main(["graph", f"{app_module}:App", "--format", "svg", "--output", str(target)]) == 0
    picture = target.read_text(encoding="utf-8")
    assert picture.lstrip().startswith(("<?xml", "<svg"))
    assert "Child" in picture


def test_graph_png_without_graphviz_says_what_to_install(
    app_module: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    assert main(["graph", f"{app_module}:App", "--format", "png"]) == 1
    assert "relays graph:" in capsys.readouterr().err
