"""Issue 16, after38: the rebuild's after-read jobs, before and after, in alternated pairs on one held stack.

`after37_pairs.py`'s runs (each `bench/rebuild_read_cpu.py` with the side's exported tree on `--pythonpath`, every run
after the first compared with the first run's database by digests), with the claim's halves and its analysing step
reported as jobs (after38 runs the claim in two halves side by side; the levels in parts, already among after37's).

    .venv/bin/python bench/after38_pairs.py HOLD --side before=/tmp/after38/main-tree --side after=/tmp/after38/set1 \
        --pairs 3 --out /tmp/after38/runs.jsonl
    .venv/bin/python bench/after38_pairs.py --summarise /tmp/after38/runs.jsonl --json /tmp/after38/summary.json
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from after36_pairs import main as pairs_main  # noqa: E402
from after36_pairs import of_run as of_run36  # noqa: E402
from after37_pairs import JOBS as JOBS37  # noqa: E402

#: after37's jobs and the claim's parts (CPU of each half's backend, of both, and of the step analysing them)
JOBS = ("claim.0", "claim.1", "claim.halves", "claim.after", *JOBS37)
of_run = partial(of_run36, jobs_named=JOBS, whole=True)


def main() -> int:
    return pairs_main(__doc__ or "", "/tmp/after38-runs.jsonl", of_run, "--digests-with")


if __name__ == "__main__":
    sys.exit(main())
