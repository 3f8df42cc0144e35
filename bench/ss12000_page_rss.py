"""The importer's memory for one large SS 12000 page: a folder page of groups (each with its `groupMemberships`) and
one of persons (enrolments and `_embedded.groupMemberships`, names and civic numbers the importer drops), generated
at about `--sizes` MB each, read by `FolderSource.read` as `styrkedja import ss12000 --dir` reads it, each in a fresh
process. Prints per page: its size, the items read, the process's RSS before reading, with the items held after it,
and its peak (VmHWM), and bytes held per item; writes them as JSON with `--out`. `--entities plan`: a whole
organiser of one such groups page (40 school units) read and planned (`read_and_plan`), the plan held: RSS with it,
peak, and the plan's changes; `--entities send`: the same organiser planned and sent to a stub of reporting (a first
import: every change created), the peak while sending. `--entities http-groups,http-persons`: the same pages served over HTTP (a fake
server streaming the file in 64 KiB chunks, `httpx.MockTransport`), read by `HttpSource.read` as
`styrkedja import ss12000 --url` reads a page: what the page's bytes cost while it is parsed.

    .venv/bin/python bench/ss12000_page_rss.py [--sizes 11,100] [--entities groups,persons,plan] [--out FILE]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

MEMBERS = 25  # a class
PERSON_GROUPS = 5  # the groups a student is in


def _uuid(n: int, kind: int) -> str:
    return str(uuid.UUID(int=(kind << 64) | n, version=4))


def _group(n: int, students: int) -> dict:
    unit = _uuid(n % 40, 1)
    return {
        "id": _uuid(n, 2), "displayName": f"Grupp {n}", "groupType": "Undervisning",
        "organisation": {"id": unit, "displayName": f"Skola {n % 40}"},
        "startDate": "2025-08-18", "endDate": "2026-06-12",
        "groupMemberships": [{"person": {"id": _uuid((n * 7 + m * 131) % students, 3),
                                         "displayName": f"Elev {m}"},
                              "startDate": "2025-08-18", "endDate": "2026-06-12"} for m in range(MEMBERS)],
        "meta": {"created": "2025-06-01T10:00:00Z", "modified": "2025-08-01T10:00:00Z"},
    }


def _person(n: int, groups: int) -> dict:
    return {
        "id": _uuid(n, 3), "givenName": "Anna", "familyName": f"Andersson {n}",
        "civicNo": {"value": f"20120101{n % 10000:04d}", "nationality": "SE"},
        "enrolments": [{"enroledAt": {"id": _uuid(n % 40, 1)}, "schoolYear": 7, "schoolType": "GR",
                        "startDate": "2025-08-18", "endDate": "2026-06-12"}],
        "_embedded": {"groupMemberships": [{"group": {"id": _uuid((n + g * 97) % groups, 2)},
                                            "startDate": "2025-08-18", "endDate": "2026-06-12"}
                                           for g in range(PERSON_GROUPS)]},
        "meta": {"created": "2025-06-01T10:00:00Z", "modified": "2025-08-01T10:00:00Z"},
    }


def write_organiser(folder: Path, megabytes: float) -> tuple[int, int]:
    """A source of one Huvudman, 40 school units and a groups page of about `megabytes` MB: (groups, bytes)."""
    units = [{"id": _uuid(n, 1), "displayName": f"Skola {n}", "organisationType": "Skolenhet",
              "schoolUnitCode": f"2999{n:04d}", "parentOrganisation": {"id": "huv"}} for n in range(40)]
    (folder / "organisations.json").write_text(json.dumps({"data": [
        {"id": "huv", "displayName": "Kommunen", "organisationType": "Huvudman", "municipalityCode": "2999"},
        *units]}))
    for entity in ("duties", "activities", "syllabuses"):
        (folder / f"{entity}.json").write_text('{"data": []}')
    return write_page(folder, "groups", megabytes)


def write_page(folder: Path, entity: str, megabytes: float) -> tuple[int, int]:
    """`<entity>.json` of about `megabytes` MB in `folder`: (items, bytes)."""
    make = _group if entity == "groups" else _person
    one = len(json.dumps(make(0, 1000)).encode()) + 2
    count = max(1, int(megabytes * 1_000_000 / one))
    other = max(1, count * MEMBERS // PERSON_GROUPS) if entity == "groups" else max(1, count * PERSON_GROUPS // MEMBERS)
    path = folder / f"{entity}.json"
    with path.open("w") as out:
        out.write('{"data": [\n')
        for n in range(count):
            out.write(("," if n else "") + json.dumps(make(n, other)) + "\n")
        out.write("]}\n")
    return count, path.stat().st_size


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def measure(folder: str, entity: str) -> dict:
    """In this process: read the page, the items held; RSS before, after (items held, garbage collected) and peak."""
    from styrkedja_cli.ss12000.source import FolderSource

    gc.collect()
    before = _rss_kib("VmRSS")
    if entity == "plan":
        from zoneinfo import ZoneInfo

        from styrkedja_cli.ss12000.command import read_and_plan

        the_plan, _ = read_and_plan(FolderSource(Path(folder)), since=None, naive_zone=ZoneInfo("Europe/Stockholm"))
        gc.collect()
        after = _rss_kib("VmRSS")
        changes = sum(len(c) for c in the_plan.changes.values())
        return {"items": changes, "rss_before_mb": round(before / 1024, 1), "rss_after_mb": round(after / 1024, 1),
                "rss_peak_mb": round(_rss_kib("VmHWM") / 1024, 1),
                "held_bytes_per_item": round((after - before) * 1024 / max(1, changes))}
    if entity == "send":
        return _plan_and_send(folder, before)
    if entity.startswith("http-"):
        items = _read_over_http(Path(folder) / f"{entity.removeprefix('http-')}.json")
    else:
        items = FolderSource(Path(folder)).read(entity, None, lambda _e, _n: None)
    gc.collect()
    after = _rss_kib("VmRSS")
    return {"items": len(items), "rss_before_mb": round(before / 1024, 1), "rss_after_mb": round(after / 1024, 1),
            "rss_peak_mb": round(_rss_kib("VmHWM") / 1024, 1),
            "held_bytes_per_item": round((after - before) * 1024 / max(1, len(items)))}


def _plan_and_send(folder: str, before: int) -> dict:
    """The organiser read, planned and sent (`command.send`, a full import) to a reporting that holds nothing and
    answers each chunk as reporting does (`created`, an entity key a change): what the send holds beside the plan
    (the keys sent, those created). RSS after: the plan and what `send` returned dropped."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    import httpx

    from styrkedja_cli.ss12000.command import read_and_plan, send
    from styrkedja_cli.ss12000.source import FolderSource

    # reporting's entity keys, told by each change's own id (the change's `type` is its event type)
    kinds = {"membership_id": "membership", "duty_id": "duty", "assignment_id": "teaching_assignment"}

    def key(data: dict) -> str:
        own = next((k for k in kinds if k in data), None)
        if own is not None:
            return f"{kinds[own]}:{data[own]}"
        return f"unit:{data['unit_type']}:{data.get('school_unit_code') or ''}:{data['unit_id']}"

    def reporting(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/directory/held":
            return httpx.Response(200, json={"items": [], "source_ids": [], "next_after": None})
        items = json.loads(request.content)["items"]
        return httpx.Response(200, json={"created": len(items), "changed": 0, "removed": 0, "unchanged": 0,
                                         "items": [{"status": "created", "entity_key": key(i["data"])}
                                                   for i in items]})

    the_plan, deleted = read_and_plan(FolderSource(Path(folder)), since=None, naive_zone=ZoneInfo("Europe/Stockholm"))
    gc.collect()
    planned = _rss_kib("VmRSS")
    changes = sum(len(c) for c in the_plan.changes.values())
    with httpx.Client(transport=httpx.MockTransport(reporting), base_url="http://reporting") as client:
        summary = send(client, the_plan, deleted, removed_at=datetime.now(UTC), full=True)
    assert sum(c["created"] for c in summary.values()) == changes
    del the_plan, summary
    gc.collect()
    after = _rss_kib("VmRSS")
    return {"items": changes, "rss_before_mb": round(before / 1024, 1), "rss_planned_mb": round(planned / 1024, 1),
            "rss_after_mb": round(after / 1024, 1), "rss_peak_mb": round(_rss_kib("VmHWM") / 1024, 1),
            "held_bytes_per_item": round((planned - before) * 1024 / max(1, changes))}


def _read_over_http(path: Path) -> list:
    """The page in `path` as one server's answer, streamed in 64 KiB chunks, read as the importer reads a page."""
    import httpx

    from styrkedja_cli.ss12000.source import HttpSource

    def chunks():  # type: ignore[no-untyped-def]
        with path.open("rb") as page:
            while block := page.read(64 * 1024):
                yield block

    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=chunks(), headers={"content-type": "application/json; charset=utf-8"})

    client = httpx.Client(transport=httpx.MockTransport(serve), base_url="http://ss12000.example/v2.0")
    source = HttpSource("http://ss12000.example/v2.0", client=client)
    return source.read(path.stem, None, lambda _e, _n: None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="11,100", help="page sizes in MB, comma-separated")
    parser.add_argument("--entities", default="groups,persons")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--measure", nargs=2, metavar=("FOLDER", "ENTITY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return
    runs = []
    for entity in args.entities.split(","):
        for size in (float(s) for s in args.sizes.split(",")):
            with tempfile.TemporaryDirectory(prefix="ss12000-rss-") as folder:
                count, size_bytes = (write_organiser(Path(folder), size) if entity in ("plan", "send")
                                     else write_page(Path(folder), entity.removeprefix("http-"), size))
                done = subprocess.run([sys.executable, __file__, "--measure", folder, entity], check=True,
                                      capture_output=True, text=True, env=os.environ)
                run = {"entity": entity, "page_mb": round(size_bytes / 1e6, 1), **json.loads(done.stdout)}
                runs.append(run)
                print(f"{entity:8} {run['page_mb']:6.1f} MB  {run['items']:7} items  RSS before "
                      f"{run['rss_before_mb']:6.1f} MB, after {run['rss_after_mb']:7.1f} MB, peak "
                      f"{run['rss_peak_mb']:7.1f} MB, {run['held_bytes_per_item']:6} B held per item", flush=True)
    if args.out:
        args.out.write_text(json.dumps({"runs": runs}, indent=2) + "\n")


if __name__ == "__main__":
    main()
