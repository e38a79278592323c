"""The check .ci/autobahn.sh runs on Autobahn's report: any failed or unclean case fails it."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

CHECK = Path(__file__).resolve().parent / "autobahn" / "check_report.py"


def check(tmp_path: Path, cases: dict[str, dict[str, str]]) -> subprocess.CompletedProcess[str]:
    report = tmp_path / "index.json"
    report.write_text(json.dumps({"relays": cases}))
    return subprocess.run(
        [sys.executable, str(CHECK), str(report)], capture_output=True, text=True, check=False
    )


def test_ok_non_strict_and_informational_pass(tmp_path: Path) -> None:
    done = check(
        tmp_path,
        {
            "1.1.1": {"behavior": "OK", "behaviorClose": "OK"},
            "6.4.1": {"behavior": "NON-STRICT", "behaviorClose": "OK"},
            "7.1.6": {"behavior": "INFORMATIONAL", "behaviorClose": "INFORMATIONAL"},
        },
    )
    assert done.returncode == 0
    assert "3 cases: 1 INFORMATIONAL, 1 NON-STRICT, 1 OK" in done.stdout


@pytest.mark.parametrize(
    "result",
    [
        {"behavior": "FAILED", "behaviorClose": "OK"},
        {"behavior": "OK", "behaviorClose": "UNCLEAN"},
        {"behavior": "OK", "behaviorClose": "FAILED"},
        {"behavior": "UNIMPLEMENTED", "behaviorClose": "OK"},
    ],
)
def test_a_failed_or_unclean_case_fails_the_run(tmp_path: Path, result: dict[str, str]) -> None:
    done = check(tmp_path, {"1.1.1": {"behavior": "OK", "behaviorClose": "OK"}, "2.1": result})
    assert done.returncode == 1
    assert "FAILED relays 2.1" in done.stdout


@pytest.fixture
def autobahn(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The driver's modules (run.py imports check_report from its own folder)."""
    monkeypatch.syspath_prepend(str(CHECK.parent))
    return importlib.import_module("run"), importlib.import_module("check_report")


def test_a_case_without_a_result_fails_the_run(tmp_path: Path, autobahn: Any) -> None:
    _, check_report = autobahn
    report = tmp_path / "index.json"
    report.write_text(json.dumps({"relays": {"1.1.1": {"behavior": "OK", "behaviorClose": "OK"}}}))
    missing = tmp_path / "never-written" / "index.json"
    failed = check_report.check({"server": [report, missing]}, {"server": ["1.1.1", "9.4.1"]})
    assert failed == ["server 9.4.1: no result"]


def test_ci_runs_every_case_below_12_and_the_documented_compression_subset(
    autobahn: Any,
) -> None:
    run, _ = autobahn
    cases = [run.Case(case) for case in ("1.1.1", "6.4.1", "9.4.1", "10.1.1")] + [
        run.Case(f"{major}.{group}.{number}", 1024, 1000)
        for major, groups in ((12, 5), (13, 7))
        for group in range(1, groups + 1)
        for number in range(1, 19)
    ]
    chosen = {case.id for case in run.choose(cases, full=False, wanted=[])}
    assert {"1.1.1", "6.4.1", "9.4.1", "10.1.1"} <= chosen
    compression = {case for case in chosen if int(case.split(".")[0]) >= 12}
    assert compression == {
        case.id
        for case in cases
        if case.numbers[0] >= 12 and case.numbers[2] in run.CI_COMPRESSION_CASES
    }
    assert len(run.choose(cases, full=True, wanted=[])) == len(cases)
    assert [case.id for case in run.choose(cases, full=True, wanted=["9.4.1", "13.7.*"])] == [
        "9.4.1",
        *(f"13.7.{number}" for number in range(1, 19)),
    ]


def test_shards_share_the_cost_and_keep_the_suites_order(tmp_path: Path, autobahn: Any) -> None:
    run, _ = autobahn
    cases = [run.Case(f"12.1.{number}", 2**number, 1000) for number in range(1, 19)]
    shards = run.deal("server", cases, 3, tmp_path)
    assert sorted(case.id for shard in shards for case in shard.cases) == sorted(
        case.id for case in cases
    )
    costs = [shard.cost for shard in shards]
    assert max(costs) <= 1.5 * min(costs)
    for shard in shards:
        assert shard.cases == sorted(shard.cases, key=lambda case: case.numbers)
