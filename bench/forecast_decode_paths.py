"""CPU time per `decode_event` of the forecast example (round fore29): by the fast path (plain text) and by the
ordinary one (the same message with one escape, so never plain), the best and the median of five passes of 5,000.

    .venv/bin/python bench/forecast_decode_paths.py     # prints µs per decode and the load average

`bench/decode.py --only forecast.submitted` measures the fast path per step; this adds the ordinary path, which
every message with an escape (a non-ASCII name written as `\\u00e5`) takes."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "packages/contracts/src") not in sys.path:
    sys.path.append(str(ROOT / "packages/contracts/src"))

from styrkedja_contracts import decode_event  # noqa: E402
from styrkedja_contracts.examples import example_bytes  # noqa: E402

N, PASSES = 5000, 5


def main() -> int:
    doc = json.loads(example_bytes("se.styrkedja.forecast.submitted.v1"))
    plain = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
    escaped = plain.replace(b'"specversion":"1.0"', b'"specversion":"1\\u002e0"', 1)
    for name, value in (("fast path", plain), ("ordinary", escaped)):
        decode_event(value)
        passes = []
        for _ in range(PASSES):
            began = time.process_time()
            for _ in range(N):
                decode_event(value)
            passes.append((time.process_time() - began) / N * 1e6)
        passes.sort()
        print(f"{name}: best {passes[0]:.1f} µs, median {passes[PASSES // 2]:.1f} µs per decode")
    print("load average", os.getloadavg())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
