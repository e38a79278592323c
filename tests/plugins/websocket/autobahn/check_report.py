#!/usr/bin/env python3
"""Read an Autobahn report (index.json): print the summary, exit 1 on any failed case.

A case fails when its behaviour is FAILED, or its close behaviour is FAILED or
UNCLEAN (the spec asks for a clean close there). OK, NON-STRICT and INFORMATIONAL
pass. Usage: python check_report.py REPORT_DIR/index.json [...]
"""

from __future__ import annotations

import json
import sys
from collections import Counter

PASSING = {"OK", "NON-STRICT", "INFORMATIONAL"}


def main(paths: list[str]) -> int:
    failed: list[str] = []
    for path in paths:
        with open(path) as file:
            report = json.load(file)
        for agent, cases in report.items():
            behaviours: Counter[str] = Counter()
            for case, result in sorted(cases.items()):
                behaviour = result["behavior"]
                close = result["behaviorClose"]
                behaviours[behaviour] += 1
                if behaviour not in PASSING or close not in PASSING:
                    failed.append(f"{agent} {case}: {behaviour} (close: {close})")
            summary = ", ".join(f"{count} {name}" for name, count in sorted(behaviours.items()))
            print(f"{path}: {agent}: {len(cases)} cases: {summary}")
    for line in failed:
        print("FAILED", line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
