#!/usr/bin/env python3
"""Read Autobahn reports (index.json): print a summary table, exit 1 on any failed case.

A case fails when its behaviour is not OK, NON-STRICT or INFORMATIONAL, when its close
behaviour is not one of those either (UNCLEAN: the spec asks for a clean close there), or,
when the expected cases are known (``run.py``), when it has no result at all.
Usage: python check_report.py REPORT_DIR/index.json [...]
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

PASSING = {"OK", "NON-STRICT", "INFORMATIONAL"}

#: The suite's names for its categories (the first number of a case).
CATEGORIES = {
    1: "framing",
    2: "pings and pongs",
    3: "reserved bits",
    4: "opcodes",
    5: "fragmentation",
    6: "UTF-8",
    7: "close handling",
    9: "limits and performance",
    10: "miscellaneous",
    12: "permessage-deflate, payloads",
    13: "permessage-deflate, parameters",
}


def _read(paths: list[Path]) -> dict[str, dict[str, str]]:
    """Case id -> its result, over every report in *paths* (a missing report adds none)."""
    results: dict[str, dict[str, str]] = {}
    for path in paths:
        if not path.exists():
            continue
        for cases in json.loads(path.read_text()).values():
            results.update(cases)
    return results


def _category(case: str) -> int:
    return int(case.split(".", 1)[0])


def _counts(results: dict[str, dict[str, str]]) -> str:
    behaviours = Counter(result["behavior"] for result in results.values())
    unclean = sum(1 for result in results.values() if result["behaviorClose"] not in PASSING)
    text = ", ".join(f"{count} {name}" for name, count in sorted(behaviours.items()))
    return text + (f", {unclean} UNCLEAN" if unclean else "")


def check(
    reports: dict[str, list[Path]], expected: dict[str, list[str]] | None = None
) -> list[str]:
    """Print the summary of each mode's *reports*; return the failures (empty: all passed).

    *expected* names each mode's cases: one without a result fails too.
    """
    failed: list[str] = []
    by_mode = {mode: _read(paths) for mode, paths in reports.items()}
    for mode, results in by_mode.items():
        print(f"{mode}: {len(results)} cases: {_counts(results)}")
        for case, result in sorted(results.items(), key=lambda item: _numbers(item[0])):
            if result["behavior"] not in PASSING or result["behaviorClose"] not in PASSING:
                failed.append(
                    f"{mode} {case}: {result['behavior']} (close: {result['behaviorClose']})"
                )
        for case in (expected or {}).get(mode, []):
            if case not in results:
                failed.append(f"{mode} {case}: no result")
    categories = sorted({_category(case) for results in by_mode.values() for case in results})
    print()
    print("| cases | " + " | ".join(by_mode) + " |")
    print("|---|" + "---|" * len(by_mode))
    for category in categories:
        cells = []
        for results in by_mode.values():
            mine = {c: r for c, r in results.items() if _category(c) == category}
            cells.append(f"{len(mine)}: {_counts(mine)}" if mine else "")
        name = CATEGORIES.get(category, "")
        print(f"| {category}.* {name} | " + " | ".join(cells) + " |")
    print()
    for line in failed:
        print("FAILED", line)
    return failed


def _numbers(case: str) -> tuple[int, ...]:
    return tuple(int(part) for part in case.split("."))


if __name__ == "__main__":
    sys.exit(1 if check({"relays": [Path(path) for path in sys.argv[1:]]}) else 0)
