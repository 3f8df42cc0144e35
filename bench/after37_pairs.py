"""Issue 16, after37: the rebuild's after-read jobs, before and after, in alternated pairs on one held stack.

As `after36_pairs.py`, whose code it runs (each run `bench/rebuild_read_cpu.py` with the side's exported tree on `--pythonpath`), every
run after the first compared with the first run's database by digests (`--digests-with`: each rebuilt table's row
count and sum of row hashes, the alerts' columns that do not hold the run's time, the outbox's rows), and each run's
whole timeline and per-job CPU kept (the jobs after37 split: the levels' parts, the judgement's parts). The runs alternate A B, B A, A B, …;
`--summarise` reads the runs' lines back and writes the per-job wall and backend CPU, the after-read wall, the
server's CPU after the read and the load of each run, and each pair's after ÷ before.

    .venv/bin/python bench/after37_pairs.py HOLD --side before=/tmp/after37-main --side after=/tmp/after37-branch \
        --pairs 3 --out /tmp/after37-runs.jsonl
    .venv/bin/python bench/after37_pairs.py --summarise /tmp/after37-runs.jsonl --json bench/results/after37.json
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from after36_pairs import JOBS as JOBS36  # noqa: E402
from after36_pairs import main as pairs_main  # noqa: E402
from after36_pairs import of_run as of_run36  # noqa: E402

#: after36's jobs and those after37 split: the levels' parts, the judgement's parts
JOBS = (*JOBS36[:-2], "alerts.judge.drops", "alerts.judge.below", "levels.assessment_aggregates.0",
        "levels.assessment_aggregates.1", "levels.appended.1", *JOBS36[-2:])
of_run = partial(of_run36, jobs_named=JOBS, whole=True)


def main() -> int:
    return pairs_main(__doc__ or "", "/tmp/after37-runs.jsonl", of_run, "--digests-with")


if __name__ == "__main__":
    sys.exit(main())
