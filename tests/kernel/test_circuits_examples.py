"""The kernel's programs in examples/circuits/ (generator handlers with call/wait, a
worker batch with exit codes), run as users run them."""

from __future__ import annotations

import contextlib
import importlib.util
import io
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "circuits"


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"circuits_example_{name}", EXAMPLES / name)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def output_of(app: object) -> list[str]:
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        app.run()  # type: ignore[attr-defined]
    return output.getvalue().splitlines()


def test_the_call_example_adds_up_the_prices_it_called_for() -> None:
    example = load_example("call.py")
    assert output_of(example.Shopper()) == [
        "bread: 250 cents",
        "milk: 120 cents",
        "caviar: not sold",
        "total: 370 cents",
    ]


def test_the_wait_example_waits_for_each_loaf_before_the_next() -> None:
    example = load_example("wait.py")
    baker = example.Baker()
    assert output_of(baker) == [
        "rye is in the oven",
        "(the baker tidies up while the rye bakes)",
        "rye is baked",
        "spelt is in the oven",
        "(the baker tidies up while the spelt bakes)",
        "spelt is baked",
    ]


@pytest.mark.parametrize(
    ("numbers", "status"),
    [([4, 0, 8], 1), ([4, 8], 0)],
)
def test_the_jobs_example_reports_each_job_and_exits_with_whether_one_failed(
    numbers: list[float], status: int
) -> None:
    example = load_example("jobs.py")
    output = io.StringIO()
    with contextlib.redirect_stdout(output), pytest.raises(SystemExit) as exit_:
        example.Batch(numbers).run()
    assert exit_.value.code == status
    expected = {
        4: "1/4 = 0.25",
        0: "1/0 failed: division by zero",
        8: "1/8 = 0.125",
    }
    assert output.getvalue().splitlines() == [expected[number] for number in numbers]
