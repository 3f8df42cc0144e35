"""hostile36: what the envelope's round-36 rules (`source` an ASCII URI-reference, `subject` a label that shows what
it holds) cost `decode_event`, in CPU µs per event, before and after, in alternated pairs.

"before" is the contracts package as committed at `--base` (exported with `git archive` to a temporary folder and put
first on `PYTHONPATH`), "after" the working tree's. Each side runs in a process of its own, which builds the same
seeded corpora and times `decode_event` over each by its thread's CPU time (`measured.best_pass`: the best of
`--repeats` passes over the whole corpus; the machine is shared). Corpora (`--events` each):

* `plain`: assessment.published events as the outboxes write them (`CloudEvent.to_bytes`, ASCII and Latin-1
  letters): the decode's fast path, whose shadow holds the new `source` pattern (and leaves `check_subject` out);
* `escaped`: the same events with `/` escaped as `\\/` in `source` (the same values): the ordinary path, an ASCII
  subject and source — `check_source`'s regular expression, `check_subject`'s `isascii`;
* `cyrillic_subject`: the ordinary path with a subject of Cyrillic words, each event's its own (`Школа <n> 7А`):
  `check_subject`'s worst case, every letter looked up (its memo misses);
* `percent_source`: a `source` with percent-encoding (`/b%C3%A9d%C3%B6mning/<n>`): the ordinary path, the decoded text
  checked too.

    .venv/bin/python bench/envelope36.py --pairs 6      # → bench/results/envelope36.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from measured import contracts_pairs

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "envelope36.json"

SIDE = r"""
import json, sys, uuid
from datetime import UTC, date, datetime, timedelta
from styrkedja_contracts import AssessmentPublishedV1, decode_event, new_event
import random

events, repeats, bench = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rng = random.Random(36)
t0 = datetime(2026, 11, 16, 14, 42, tzinfo=UTC)
plain, escaped, cyrillic, percent = [], [], [], []
for i in range(events):
    at = t0 + timedelta(seconds=i)
    data = AssessmentPublishedV1(
        assessment_id=uuid.UUID(int=rng.getrandbits(128), version=4), revision=1, teacher_id="tch-1",
        gender="female", year=7, kind="assessment", scale="AF", value=rng.choice("ABCDE"), unmet_criteria=(),
        round=1, assessed_on=date(2026, 11, 13), published_at=at, organiser_id="2999",
        school_unit_code="29990011", group_id="7A", student_id=f"stu-{i:06x}", subject_code="GRGRMAT01",
        school_year="2026/27", term="HT")
    raw = new_event(data, source="/styrkedja/assessment", subject=str(data.assessment_id), time=at).to_bytes()
    plain.append(raw)
    escaped.append(raw.replace(b'"source":"/styrkedja/assessment"', b'"source":"\\/styrkedja\\/assessment"', 1))
    doc = json.loads(raw)
    cyrillic.append(json.dumps({**doc, "subject": f"Школа {i} 7А"}, ensure_ascii=False,
                               separators=(",", ":")).encode())
    percent.append(json.dumps({**doc, "source": f"/b%C3%A9d%C3%B6mning/{i}"}, separators=(",", ":")).encode())
sys.path.append(bench)  # the bench's own `measured`, after the side's code (PYTHONPATH)
from measured import best_pass
out = {}
for name, corpus in (("plain", plain), ("escaped", escaped), ("cyrillic_subject", cyrillic),
                     ("percent_source", percent)):
    for raw in corpus[:3]:
        decode_event(raw)  # each taken, both sides
    out[name] = best_pass(decode_event, corpus, repeats, chunk=len(corpus))  # the whole corpus a pass
import styrkedja_contracts
print(json.dumps({"file": styrkedja_contracts.__file__, "us": out}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="abfed485", help="the commit of the code before")
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--events", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    contracts_pairs(SIDE,
                    what="decode_event CPU µs per event, before (--base) and after (the working tree), alternated pairs",
                    base=args.base, pairs=args.pairs,
                    events=args.events, repeats=args.repeats, out=args.out, prefix="hostile36")
    return 0


if __name__ == "__main__":
    sys.exit(main())
