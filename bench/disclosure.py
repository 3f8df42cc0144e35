"""Disclosure-control benchmark: how long `disclose()` takes, and how many cells it withholds, for
the trees the reporting service will give it. Numbers, never pass/fail.

    .venv/bin/python bench/disclosure.py [--seed 7]

Shapes: a Mittköping-like organiser (4 areas × 5 units × 10 groups, split by gender girls/boys/
unknown) at two group sizes, and the nation table (290 organisers by gender) as the public sees it
(every level suppressed); and the smaller-group organiser as the area manager's class sees it
(groups and school units exact, area and above suppressed).
Writes bench/results/disclosure.json.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from styrkedja_kit.auth import Level
from styrkedja_reporting.access.disclosure import Cell, Partition, disclose

GENDERS = ("F", "M", "U")
LEVELS = {"org": Level.ORGANISER, "area": Level.AREA, "unit": Level.SCHOOL_UNIT, "group": Level.GROUP}


def organiser(rng: random.Random, areas: int, units: int, groups: int, mean: float):
    tree: dict[tuple, list[tuple]] = {("org",): []}
    leaves: dict[tuple, int] = {}
    for a in range(areas):
        tree[("org",)].append(("area", a))
        tree[("area", a)] = []
        for u in range(units):
            unit = ("unit", a, u)
            tree[("area", a)].append(unit)
            tree[unit] = [("group", a, u, g) for g in range(groups)]
            for group in tree[unit]:
                for gender in GENDERS:
                    leaves[(group, gender)] = max(0, int(rng.gauss(mean if gender != "U" else 0.3, mean / 2)))
    totals: dict[tuple, int] = {}

    def fold(node: tuple) -> None:
        for child in tree.get(node, []):
            fold(child)
        for gender in GENDERS:
            totals[(node, gender)] = (leaves[(node, gender)] if node[0] == "group"
                                      else sum(totals[(c, gender)] for c in tree[node]))
        totals[(node, "all")] = sum(totals[(node, g)] for g in GENDERS)

    fold(("org",))
    cells = {k: Cell(LEVELS[k[0][0]], v) for k, v in totals.items()}
    partitions = []
    for node, children in tree.items():
        partitions.append(Partition((node, "all"), tuple((node, g) for g in GENDERS)))
        for gender in ("all", *GENDERS):
            partitions.append(Partition((node, gender), tuple((c, gender) for c in children)))
    return cells, partitions


def nation(rng: random.Random, organisers: int = 290):
    cells: dict[tuple, Cell] = {}
    partitions = []
    for o in range(organisers):
        sizes = {"F": int(rng.lognormvariate(5, 1.5)), "M": int(rng.lognormvariate(5, 1.5)), "U": rng.randint(0, 3)}
        for gender, n in sizes.items():
            cells[(o, gender)] = Cell(Level.ORGANISER, n)
        cells[(o, "all")] = Cell(Level.ORGANISER, sum(sizes.values()))
        partitions.append(Partition((o, "all"), tuple((o, g) for g in GENDERS)))
    for gender in ("all", *GENDERS):
        cells[("nation", gender)] = Cell(Level.NATION, sum(cells[(o, gender)].students for o in range(organisers)))
        partitions.append(Partition(("nation", gender), tuple((o, gender) for o in range(organisers))))
    partitions.append(Partition(("nation", "all"), tuple(("nation", g) for g in GENDERS)))
    return cells, partitions


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    every, above_unit = frozenset(Level), frozenset({Level.AREA, Level.ORGANISER, Level.NATION})
    small_groups = organiser(rng, 4, 5, 10, 6)
    shapes = {
        "organiser, groups of ~24 (4x5x10)": (*organiser(rng, 4, 5, 10, 12), every),
        "organiser, groups of ~12 (4x5x10)": (*small_groups, every),
        "nation, 290 organisers by gender": (*nation(rng), every),
        # the area manager's class: groups and school units shown exactly, only the levels above withheld
        "organiser ~12, above the unit only": (*small_groups, above_unit),
    }
    results = {}
    for name, (cells, partitions, suppressed) in shapes.items():
        best = float("inf")
        for _ in range(args.repeat):
            started = time.perf_counter()
            decision = disclose(cells, partitions, suppressed=suppressed)
            best = min(best, time.perf_counter() - started)
        small = sum(1 for c in cells.values() if 0 < c.students < 10)
        results[name] = {"cells": len(cells), "small": small, "withheld": len(decision.withheld),
                         "best_ms": round(best * 1000, 1)}
        print(f"{name:<40} {len(cells):>5} cells {small:>4} small {len(decision.withheld):>4} withheld "
              f"{best * 1000:7.1f} ms")
    out = Path(__file__).parent / "results" / "disclosure.json"
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
