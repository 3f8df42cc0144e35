"""ss34: what reading an SS 12000 page costs when its items are refused on their own (session 34), and that a page
without faults costs what it did. Reads `groups.json` of `--groups` groups of `--members` memberships each with
`FolderSource.read` in this process, CPU time (`time.process_time`) per group, best of `--repeat` reads:

* `clean`: every item valid (the path every real page takes: one validation per item, as before);
* `faulty`: every group with one membership entry `null` (each group validated twice: the whole item, then without
  the entry — `source._validated`), every group read, every entry refused (`Shared.faults`).

Run it with `PYTHONPATH` at another tree's `packages/cli/src` for the code before (whose `faulty` page stops: said as
`stopped`). Prints one JSON object."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from styrkedja_cli.ss12000.source import FolderSource, SourceError


def page(groups: int, members: int, faulty: bool) -> dict[str, object]:
    items = []
    for g in range(groups):
        entries: list[object] = [{"person": {"id": f"p{g}-{m}"}, "startDate": "2026-08-17"} for m in range(members)]
        if faulty:
            entries[members // 2] = None
        items.append({"id": f"g{g}", "displayName": f"Grupp {g}", "groupType": "Undervisning", "startDate":
                      "2026-08-17", "organisation": {"id": "su"}, "groupMemberships": entries,
                      "meta": {"created": "2026-08-01T08:00:00Z", "modified": "2026-08-02T08:00:00Z"}})
    return {"data": items}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--groups", type=int, default=5000)
    parser.add_argument("--members", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--variant", choices=["clean", "faulty"], required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "groups.json").write_text(json.dumps(page(args.groups, args.members, args.variant == "faulty")),
                                                  encoding="utf-8")
        best, read, refused, stopped = float("inf"), 0, 0, ""
        for _ in range(args.repeat):
            source = FolderSource(Path(folder))
            start = time.process_time()
            try:
                read = len(source.read("groups", None, lambda *_: None))
            except SourceError as error:
                stopped = str(error)[:120]
            best = min(best, time.process_time() - start)
            refused = sum(len(f) for f in getattr(source.shared, "faults", {}).values())
    print(json.dumps({"variant": args.variant, "groups": args.groups, "members": args.members, "read": read,
                      "entries_refused": refused, "stopped": stopped, "cpu_s": round(best, 4),
                      "cpu_us_per_group": round(best / args.groups * 1e6, 1), "load": os.getloadavg()[0]}))


if __name__ == "__main__":
    main()
