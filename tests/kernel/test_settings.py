"""Options from ``relays.toml`` / ``[tool.relays]`` and ``RELAYS_*`` variables, under the
command line: command line > environment > config file > built-in default."""

from __future__ import annotations

from pathlib import Path

import pytest

from relays._cli import main

APP = "from relays import Component\n\nclass App(Component):\n    pass\n"


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "tinyapp.py").write_text(APP)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("RELAYS_FORMAT", raising=False)
    return tmp_path


def graph(capsys: pytest.CaptureFixture[str], *options: str) -> str:
    """The format ``relays graph`` printed in: ``dot`` or ``text``."""
    assert main(["graph", "tinyapp:App", *options]) == 0
    return "dot" if capsys.readouterr().out.startswith("digraph") else "text"


def failure(capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["graph", "tinyapp:App"]) == 2
    return capsys.readouterr().err


def test_the_built_in_default_without_settings(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert graph(capsys) == "text"


def test_precedence(
    here: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (here / "relays.toml").write_text('[graph]\nformat = "dot"\n')
    assert graph(capsys) == "dot"  # the file over the default
    monkeypatch.setenv("RELAYS_FORMAT", "text")
    assert graph(capsys) == "text"  # the environment over the file
    assert graph(capsys, "--format", "dot") == "dot"  # the command line over both
    monkeypatch.setenv("RELAYS_FORMAT", "")  # empty: as if unset
    assert graph(capsys) == "dot"


def test_pyproject_tool_relays(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (here / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.relays.graph]\nformat = "dot"\n'
    )
    assert graph(capsys) == "dot"
    (here / "relays.toml").write_text('[graph]\nformat = "text"\n')
    assert graph(capsys) == "text"  # relays.toml, when there is one, is the config file


def test_a_pyproject_without_tool_relays_is_no_config(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (here / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert graph(capsys) == "text"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[graph]\nfromat = "dot"\n', "relays.toml: [graph] has no option 'fromat'"),
        ('[grpah]\nformat = "dot"\n', "relays.toml: [grpah] names no command"),
        ('format = "dot"\n', "'format' must be under the table of the command"),
        ('[graph]\nformat = "gif"\n', "[graph] format: 'gif' is not one of text, dot, svg, png"),
        ("[run]\ndebug = 1\n", "[run] debug: give true or false, not 1"),
        ("[graph]\nformat = [1]\n", "[graph] format: give a single value"),
        ("[graph\n", "relays.toml: "),
    ],
)
def test_a_config_file_error_names_what_is_wrong(
    here: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    (here / "relays.toml").write_text(content)
    assert message in failure(capsys)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("RELAYS_FORMAT", "gif", "RELAYS_FORMAT: 'gif' is not one of text, dot, svg, png"),
        ("RELAYS_DEBUG", "maybe", "RELAYS_DEBUG: give 1 or 0 (true or false), not 'maybe'"),
    ],
)
def test_a_bad_environment_variable_is_named(
    here: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    message: str,
) -> None:
    monkeypatch.setenv(variable, value)
    assert message in failure(capsys)


def test_flags_from_the_environment(
    here: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (here / "tinyapp.py").write_text(
        APP + "    def started(self, component):\n        self.stop()\n"
    )
    monkeypatch.setenv("RELAYS_DEBUG", "yes")  # relays run --debug: a Debugger prints events
    assert main(["run", "tinyapp:App"]) == 0
    assert "<Started" in capsys.readouterr().err
