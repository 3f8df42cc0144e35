"""hostile38: what the names' mixed-script rule (`no_mixed_scripts`, round 38) costs `decode_event`, in CPU µs per
event, before and after, in alternated pairs.

"before" is the contracts package as committed at `--base` (exported with `git archive` to a temporary folder and put
first on `PYTHONPATH`), "after" the working tree's. Each side runs in a process of its own, which builds the same
seeded corpora and times `decode_event` over each by its thread's CPU time (`measured.best_pass`: the best of
`--repeats` passes over the whole corpus; the machine is shared). Corpora (`--events` each) of
organisation.unit_upserted events (the only events of the live stream with a name; assessments, forecasts and
support carry none), each event's name its own (the name rules' memo misses):

* `latin1_names`: "Skolan Åby <n>" as the outboxes write them: the decode's fast path (a plain name is judged by a
  pattern: no script is looked up);
* `sami_names`: "Čáhcesullot skuvla <n> Ŋ": not plain text (Latin Extended), the ordinary path, every word's letters
  looked up;
* `cyrillic_names`: "Київська школа <n>": the ordinary path, every letter Cyrillic;
* `assessments`: assessment.published events as the outboxes write them (no name: the hot path, unchanged).

    .venv/bin/python bench/names38.py --pairs 6      # → bench/results/names38.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from measured import contracts_pairs

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "names38.json"

SIDE = r"""
import json, sys, uuid
from datetime import UTC, date, datetime, timedelta
from styrkedja_contracts import AssessmentPublishedV1, OrganisationUnitUpsertedV1, decode_event, new_event
import random

events, repeats, bench = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rng = random.Random(38)
t0 = datetime(2026, 11, 16, 14, 42, tzinfo=UTC)
corpora = {"latin1_names": [], "sami_names": [], "cyrillic_names": [], "assessments": []}
names = {"latin1_names": "Skolan Åby {}", "sami_names": "Čáhcesullot skuvla {} Ŋ", "cyrillic_names": "Київська школа {}"}
for i in range(events):
    at = t0 + timedelta(seconds=i)
    for corpus, name in names.items():
        unit = OrganisationUnitUpsertedV1(unit_type="school_unit", unit_id=f"su-{i}", organiser_id="2999",
                                          parent_id="2999", name=name.format(i), school_unit_code="29990011",
                                          roster_size=100, updated_at=at)
        corpora[corpus].append(new_event(unit, source="/styrkedja/reporting", subject=f"su-{i}", time=at).to_bytes())
    data = AssessmentPublishedV1(
        assessment_id=uuid.UUID(int=rng.getrandbits(128), version=4), revision=1, teacher_id="tch-1",
        gender="female", year=7, kind="assessment", scale="AF", value=rng.choice("ABCDE"), unmet_criteria=(),
        round=1, assessed_on=date(2026, 11, 13), published_at=at, organiser_id="2999",
        school_unit_code="29990011", group_id="7A", student_id=f"stu-{i:06x}", subject_code="GRGRMAT01",
        school_year="2026/27", term="HT")
    corpora["assessments"].append(new_event(data, source="/styrkedja/assessment", subject=str(data.assessment_id),
                                            time=at).to_bytes())
sys.path.append(bench)  # the bench's own `measured`, after the side's code (PYTHONPATH)
from measured import best_pass
out = {}
for name, corpus in corpora.items():
    for raw in corpus[:3]:
        decode_event(raw)  # each taken, both sides
    out[name] = best_pass(decode_event, corpus, repeats, chunk=len(corpus))  # the whole corpus a pass
import styrkedja_contracts
print(json.dumps({"file": styrkedja_contracts.__file__, "us": out}))
"""


def main(side: str = SIDE, *, base: str = "3f6d2e80", pairs: int = 6, events: int = 5_000, out: Path = RESULTS,
         prefix: str = "hostile38", doc: str | None = None) -> int:
    """The pairs of `side` (this module's, or a later round's variant of it) with that round's defaults and `doc`."""
    parser = argparse.ArgumentParser(description=doc or __doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default=base, help="the commit of the code before")
    parser.add_argument("--pairs", type=int, default=pairs)
    parser.add_argument("--events", type=int, default=events)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=out)
    args = parser.parse_args()
    contracts_pairs(side,
                    what="decode_event CPU µs per event of organisation.unit_upserted events with a name of their own "
                         "each, and of assessments: before (--base) and after (the working tree), alternated pairs",
                    base=args.base, pairs=args.pairs,
                    events=args.events, repeats=args.repeats, out=args.out, prefix=prefix)
    return 0


if __name__ == "__main__":
    sys.exit(main())
