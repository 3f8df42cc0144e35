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
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

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


def export_base(base: str, into: Path) -> Path:
    """The contracts' and the kit's sources at `base`, exported (`git archive`) under `into`."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", base, "packages/contracts/src"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "packages" / "contracts" / "src"


def side(src: Path, events: int, repeats: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run([sys.executable, "-c", SIDE, str(events), str(repeats), str(ROOT / "bench")], env=env,
                          check=True,
                          capture_output=True, text=True)
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    if not answer["file"].startswith(str(src)):  # the side must import the code it is said to measure
        raise SystemExit(f"{src}: imported {answer['file']}")
    return dict(answer["us"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="3f6d2e80", help="the commit of the code before")
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--events", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hostile38-before-") as folder:
        before_src = export_base(args.base, Path(folder))
        after_src = ROOT / "packages" / "contracts" / "src"
        pairs, loads = [], [os.getloadavg()[0]]
        for n in range(args.pairs):
            order = [("before", before_src), ("after", after_src)]
            if n % 2:
                order.reverse()
            pair = {label: side(src, args.events, args.repeats) for label, src in order}
            pairs.append(pair)
            loads.append(os.getloadavg()[0])
            print(n, {label: {k: round(v, 2) for k, v in values.items()} for label, values in pair.items()},
                  f"load {loads[-1]:.1f}", flush=True)
    corpora = list(pairs[0]["before"])
    summary = {}
    for corpus in corpora:
        before = [p["before"][corpus] for p in pairs]
        after = [p["after"][corpus] for p in pairs]
        ratios = [a / b for a, b in zip(after, before, strict=True)]
        summary[corpus] = {"before_us": round(median(before), 3), "after_us": round(median(after), 3),
                           "after_minus_before_us": round(median(a - b for a, b in zip(after, before, strict=True)), 3),
                           "ratio_median": round(median(ratios), 3), "ratios": [round(r, 3) for r in ratios]}
        print(corpus, summary[corpus])
    args.out.write_text(json.dumps({
        "what": "decode_event CPU µs per event of organisation.unit_upserted events with a name of their own each, and of assessments: before (--base) and after (the working tree), alternated pairs",
        "base": args.base, "events": args.events, "repeats": args.repeats, "pairs": pairs, "summary": summary,
        "load_average": [round(x, 2) for x in loads], "cpus": os.cpu_count(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
