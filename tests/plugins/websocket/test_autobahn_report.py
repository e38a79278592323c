"""The check .ci/autobahn.sh runs on Autobahn's report: any failed or unclean case fails it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
