"""A whole municipality over SS 12000, as other servers serve it: one Huvudman, `--units` school units (under
areas), `--students` students (each enrolled at a school unit), `--groups` groups of `--members` members (classes,
undervisningsgrupper, mentorsgrupper), a teacher's duty and an activity per group. Served by a fake server
(`httpx.MockTransport`) that makes each page when asked (so its own memory is not measured) in pages of the
server's own size (`--server-page`, whatever `limit` asks: 1, 7, 1000, 10000), memberships on the groups
(`--memberships groups`) or only on persons (`expand=groupMemberships`, `--memberships persons`). The importer reads
and plans it (`read_and_plan`) and sends it (`send`, a full first import) to a stub of reporting that checks each
request against reporting's own limits (5,000 items, 4 MiB of body) and answers as reporting does. Each run in a
fresh process: seconds read, seconds sent, peak RSS (VmHWM), requests made, the largest chunk and body sent.

    .venv/bin/python bench/ss12000_municipality.py [--server-page 1000] [--memberships groups] [--students 100000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

REPORTING_MAX_ITEMS, REPORTING_MAX_BODY = 5_000, 4 * 1024 * 1024


def _uuid(n: int, kind: int) -> str:
    return str(uuid.UUID(int=(kind << 64) | n, version=4))


class Municipality:
    """The items of each entity by index, made when a page asks for them."""

    GROUP_TYPES = ("Klass", "Undervisning", "Mentor")

    def __init__(self, units: int, students: int, groups: int, members: int, areas: int, memberships: str) -> None:
        self.units, self.students, self.groups, self.members = units, students, groups, members
        self.areas, self.on_groups = areas, memberships == "groups"
        self.count = {"organisations": 1 + areas + units, "groups": groups, "persons": students,
                      "duties": groups, "activities": groups, "syllabuses": 1}

    def item(self, entity: str, n: int) -> dict[str, Any]:
        return getattr(self, {"duties": "duty", "activities": "activity", "syllabuses": "syllabus"}.get(
            entity, entity[:-1]))(n)

    def organisation(self, n: int) -> dict[str, Any]:
        if n == 0:
            return {"id": "huv", "displayName": "Kommunen", "organisationType": "Huvudman", "municipalityCode": "2999"}
        if n <= self.areas:
            return {"id": _uuid(n, 9), "displayName": f"Område {n}", "organisationType": "Verksamhetsomrade",
                    "parentOrganisation": {"id": "huv"}}
        u = n - self.areas - 1
        return {"id": _uuid(u, 1), "displayName": f"Skola {u}", "organisationType": "Skolenhet",
                "schoolUnitCode": f"{29990000 + u}", "schoolTypes": ["GR"],
                "parentOrganisation": {"id": _uuid(1 + u % self.areas, 9) if self.areas else "huv"}}

    def _unit_of_group(self, g: int) -> int:
        return g * self.units // self.groups

    def _members(self, g: int) -> list[int]:
        return [(g * self.members + m) % self.students for m in range(self.members)]

    def group(self, n: int) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": _uuid(n, 2), "displayName": f"Grupp {n}", "groupType": self.GROUP_TYPES[n % 3],
            "organisation": {"id": _uuid(self._unit_of_group(n), 1)},
            "startDate": "2025-08-18", "endDate": "2026-06-12",
            "meta": {"created": "2025-06-01T10:00:00Z", "modified": "2025-08-01T10:00:00Z"}}
        if self.on_groups:
            out["groupMemberships"] = [{"person": {"id": _uuid(p, 3), "displayName": f"Elev {p}"},
                                        "startDate": "2025-08-18", "endDate": "2026-06-12"} for p in self._members(n)]
        return out

    def person(self, n: int) -> dict[str, Any]:
        g = (n // self.members) % self.groups  # the group whose members start at n (one group per student here)
        out: dict[str, Any] = {
            "id": _uuid(n, 3), "givenName": "Anna", "familyName": f"Andersson {n}",
            "civicNo": {"value": f"20120101{n % 10000:04d}", "nationality": "SE"},
            "enrolments": [{"enroledAt": {"id": _uuid(self._unit_of_group(g), 1)}, "schoolYear": 1 + n % 9,
                            "schoolType": "GR", "startDate": "2025-08-18", "endDate": "2026-06-12"}],
            "meta": {"created": "2025-06-01T10:00:00Z", "modified": "2025-08-01T10:00:00Z"}}
        if not self.on_groups:
            out["_embedded"] = {"groupMemberships": [{"group": {"id": _uuid(g, 2)}, "startDate": "2025-08-18",
                                                      "endDate": "2026-06-12"}]}
        return out

    def duty(self, n: int) -> dict[str, Any]:
        return {"id": _uuid(n, 4), "person": {"id": _uuid(n, 5)}, "dutyAt": {"id": _uuid(self._unit_of_group(n), 1)},
                "dutyRole": "Lärare", "startDate": "2025-08-01"}

    def activity(self, n: int) -> dict[str, Any]:
        return {"id": _uuid(n, 6), "displayName": f"Matematik {n}", "groups": [{"id": _uuid(n, 2)}],
                "teachers": [{"duty": {"id": _uuid(n, 4)}}], "syllabus": {"id": "ma"},
                "organisation": {"id": _uuid(self._unit_of_group(n), 1)}}

    def syllabus(self, n: int) -> dict[str, Any]:
        return {"id": "ma", "subjectCode": "MAT"}


def measure(args: argparse.Namespace) -> dict[str, Any]:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    import httpx

    from styrkedja_cli.ss12000.command import read_and_plan, send
    from styrkedja_cli.ss12000.source import HttpSource

    town = Municipality(args.units, args.students, args.groups, args.members, args.areas, args.memberships)
    requests = {"source": 0, "reporting": 0}
    largest = {"items": 0, "bytes": 0}

    def server(request: httpx.Request) -> httpx.Response:
        requests["source"] += 1
        entity = request.url.path.rsplit("/", 1)[-1]
        if entity not in town.count:
            return httpx.Response(404)
        start = int(request.url.params.get("pageToken", "0"))
        end = min(start + args.server_page, town.count[entity])
        body: dict[str, Any] = {"data": [town.item(entity, n) for n in range(start, end)]}
        if end < town.count[entity]:
            body["pageToken"] = str(end)
        return httpx.Response(200, content=json.dumps(body).encode(), headers={"content-type": "application/json"})

    kinds = {"membership_id": "membership", "duty_id": "duty", "assignment_id": "teaching_assignment"}

    def key(data: dict[str, Any]) -> str:
        own = next((k for k in kinds if k in data), None)
        if own is not None:
            return f"{kinds[own]}:{data[own]}"
        return f"unit:{data['unit_type']}:{data.get('school_unit_code') or ''}:{data['unit_id']}"

    def reporting(request: httpx.Request) -> httpx.Response:
        requests["reporting"] += 1
        if request.url.path == "/v1/directory/held":
            return httpx.Response(200, json={"items": [], "source_ids": [], "next_after": None})
        if len(request.content) > REPORTING_MAX_BODY:
            return httpx.Response(413, json={"title": "body too large"})
        items = json.loads(request.content)["items"]
        if len(items) > REPORTING_MAX_ITEMS:
            return httpx.Response(422, json={"title": "too many items"})
        largest["items"] = max(largest["items"], len(items))
        largest["bytes"] = max(largest["bytes"], len(request.content))
        return httpx.Response(200, json={"created": len(items), "changed": 0, "removed": 0, "unchanged": 0,
                                         "items": [{"status": "created", "entity_key": key(i["data"])}
                                                   for i in items]})

    client = httpx.Client(transport=httpx.MockTransport(server), base_url="http://ss12000.example/v2.0")
    source = HttpSource("http://ss12000.example/v2.0", client=client, page_size=args.page_size,
                        max_pages=10_000_000)
    began = time.perf_counter()
    the_plan, deleted = read_and_plan(source, since=None, naive_zone=ZoneInfo("Europe/Stockholm"))
    read = time.perf_counter() - began
    changes = {entity: len(c) for entity, c in the_plan.changes.items()}
    began = time.perf_counter()
    with httpx.Client(transport=httpx.MockTransport(reporting), base_url="http://reporting") as to_reporting:
        summary = send(to_reporting, the_plan, deleted, removed_at=datetime.now(UTC), full=True)
    sent = time.perf_counter() - began
    assert sum(c["created"] for c in summary.values()) == sum(changes.values()), summary
    peak = next(int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines()
                if line.startswith("VmHWM:"))
    return {"server_page": args.server_page, "memberships_on": args.memberships, "students": args.students,
            "changes": changes, "refused": len(the_plan.refused) + len(the_plan.under_refused),
            "read_s": round(read, 1), "send_s": round(sent, 1), "peak_rss_mb": round(peak / 1024, 1),
            "requests": requests, "largest_chunk_items": largest["items"],
            "largest_chunk_kib": round(largest["bytes"] / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=290)
    parser.add_argument("--areas", type=int, default=12)
    parser.add_argument("--students", type=int, default=100_000)
    parser.add_argument("--groups", type=int, default=4_000)
    parser.add_argument("--members", type=int, default=25)
    parser.add_argument("--server-page", type=int, default=1000, help="items per page whatever `limit` asks")
    parser.add_argument("--page-size", type=int, default=100, help="--page-size (the `limit` asked)")
    parser.add_argument("--memberships", choices=("groups", "persons"), default="groups")
    parser.add_argument("--here", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.here:
        print(json.dumps(measure(args)))
        return
    done = subprocess.run([sys.executable, __file__, "--here", *sys.argv[1:]], capture_output=True, text=True)
    if done.returncode:
        sys.exit(done.stderr)
    print(done.stdout.strip())


if __name__ == "__main__":
    main()
