"""Hostile round 33: what the two mends on every body and event cost — the kit's body scan (`inputs.json_refusal`,
now refusing a number a float holds only rounded: `inexact_number`) and the decode of an event with a tuple
(`events.base.LongestFirst`, left out of the fast path's shadow).

Corpora: a batch of 1,000 assessments of the deadline week (bench/deadline_week.py, as the bulk API takes them),
10,000 items of one float each (`1.5 + i / 8`), 10,000 items of an integer and a short string, and a hostile body of
floats at the size limit (4 MiB: `parse_float` is a Python call per number with a fraction); the decode of
the committed example of each event type with a tuple and a shadow (assessment, plan). Each figure is the best of
`--repeats` passes (the machine is shared: the best pass is the least disturbed), with the load average at the end.

The code measured is the one on `sys.path`: run it once as the tree is and once with the sources before the mends
first on `PYTHONPATH` (`git archive <commit> packages/kit/src packages/contracts/src | tar -x -C /tmp/base`):

    .venv/bin/python bench/body_scan33.py --label after
    PYTHONPATH=/tmp/base/packages/kit/src:/tmp/base/packages/contracts/src:$PYTHONPATH \\
        .venv/bin/python bench/body_scan33.py --label before

The JSON (`bench/results/body_scan33.json`) keeps one entry per label (a second run with the same label replaces it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

OUT = ROOT / "bench" / "results" / "body_scan33.json"


def best_ms(work: Callable[[], object], repeats: int, inner: int = 1) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            work()
        best = min(best, (time.perf_counter() - start) / inner)
    return best * 1000


def corpora() -> dict[str, bytes]:
    from deadline_week import TermData

    batch = TermData(seed=3, students=650).new_assessments(1000)
    return {
        "assessment batch of 1,000": json.dumps({"items": batch}, ensure_ascii=False).encode(),
        "10,000 floats": json.dumps({"items": [{"p": 1.5 + i / 8} for i in range(10_000)]}).encode(),
        "10,000 integers and strings": json.dumps({"items": [{"p": i, "s": f"stu-{i}"}
                                                             for i in range(10_000)]}).encode(),
        "4 MiB of floats": ("[" + ", ".join(["1.25"] * (4 * 1024 * 1024 // 6)) + "]").encode(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", required=True)
    parser.add_argument("--repeats", type=int, default=25)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    from styrkedja_contracts import decode_event
    from styrkedja_kit import inputs

    result: dict[str, Any] = {"scan_ms": {}, "decode_us": {}, "kit": inputs.__file__}
    for name, body in corpora().items():
        result["scan_ms"][name] = round(best_ms(lambda body=body: inputs.json_refusal(body), args.repeats), 3)
        print(f"scan {name} ({len(body):,} bytes): {result['scan_ms'][name]} ms")
    for event_type in ("se.styrkedja.assessment.published.v1", "se.styrkedja.plan.published.v1"):
        raw = (ROOT / "packages" / "contracts" / "examples" / f"{event_type}.json").read_bytes()  # any sources' own
        took = best_ms(lambda raw=raw: decode_event(raw), args.repeats, inner=2000) * 1000
        result["decode_us"][event_type] = round(took, 2)
        print(f"decode {event_type}: {took:.2f} µs")
    result["loadavg"] = list(os.getloadavg())
    stored = json.loads(args.out.read_text()) if args.out.exists() else {}
    stored[args.label] = result
    args.out.write_text(json.dumps(stored, indent=2, ensure_ascii=False) + "\n")
    print(f"load average {result['loadavg']} → {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
