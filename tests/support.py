"""Synthetic school data and the independent recomputation used by the end-to-end tests and
the benchmarks: assessments for two organisers posted over HTTP as a school platform would,
and the test's own record of what must count."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import random
import string
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from uvicorn.config import LOGGING_CONFIG

from styrkedja_contracts.scales import Scale, reaches_pass
from styrkedja_devstack.issuer import DevIssuer, TokenMinter
from styrkedja_devstack.services import ServiceProcess

SUBJECTS = ("GRGRMAT01", "GRGRSVE01", "GRGRENG01", "GRGRBIO01")
AF = ("A", "B", "C", "D", "E", "F")
THREE = ("NOT_REACHED", "ACCEPTABLE", "MORE_THAN_ACCEPTABLE")
LEVELS = ("student", "group", "school_unit", "area", "organiser", "nation")
PLATFORM_CLIENT = "test-platform"


class Tokens:
    """Bearer tokens signed by a dev OIDC issuer (the `token_issuer` fixture in tests, a `DevIssuer`
    in the benchmarks), as `Authorization` headers, each of the least role that does the job:
    a platform client writes, an organiser admin reads, ops runs the admin endpoints, a principal
    writes LIKA of own school units. Minted per call (cheap), so a long run never sends an expired one."""

    def __init__(self, issuer: DevIssuer | TokenMinter) -> None:
        self.issuer = issuer

    @classmethod
    def start(cls, state_dir: Path) -> Tokens:
        """A dev issuer of its own on a free loopback port (benchmarks); a daemon thread of this process."""
        return cls(DevIssuer(state_dir, port=None).start())

    @property
    def service_env(self) -> dict[str, str]:
        """What a service process needs to check these tokens."""
        if not isinstance(self.issuer, DevIssuer):
            raise TypeError("a bare TokenMinter serves no discovery document: start a DevIssuer")
        return {"STYRKEDJA_AUTH_ISSUER": self.issuer.url}

    def _headers(self, **claims) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issuer.mint(**claims)}"}

    def platform(self, *organisers: str) -> dict[str, str]:
        return self._headers(roles=["platform"], organisers=organisers, client_id=PLATFORM_CLIENT,
                             subject=PLATFORM_CLIENT)

    def admin(self, *organisers: str) -> dict[str, str]:
        return self._headers(roles=["organiser_admin"], organisers=organisers)

    def principal(self, organiser: str, *school_units: str) -> dict[str, str]:
        return self._headers(roles=["principal"], organisers=[organiser], school_units=school_units)

    def ops(self) -> dict[str, str]:
        return self._headers(roles=["ops"])


def organisation_number(rng: random.Random) -> str:
    """An organiser's organisation number drawn from `rng`: month digits >= 20, so never mistaken for a
    personnummer, in the spelling every answer carries (NNNNNN-NNNN, contracts' canonical_organiser_id)."""
    return f"21{rng.randint(20, 99)}{rng.randint(0, 99):02d}-{rng.randint(0, 9999):04d}"


#: the investigation an action programme of the tests' support events rests on (`decision`)
BASIS_INVESTIGATION = uuid.UUID("5c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d00")


def decision(kind: str, status: str, start: Any) -> dict[str, Any]:
    """The fields a support intervention of this kind and status names besides, at the assessment service's door and
    in its event (the contracts' `intervention_broken`, round 29r): past `proposed` who decided (the principal for
    every kind but an extra adaptation) and when (on its start); an action programme its investigation; an evaluated
    one its outcome. A test's own values given after these win."""
    found: dict[str, Any] = {}
    if status != "proposed":
        found |= {"decided_by_role": "teacher" if kind == "extra_adjustment" else "principal", "decided_on": start}
    if kind == "action_programme":
        found["investigation_id"] = BASIS_INVESTIGATION
    if status == "evaluated":
        found["evaluation_outcome"] = "unchanged"
    return found


def delivered_in_order(events: Iterable[Any]) -> list[Any]:
    """`events` as the consumer's `Delivered` records, each in partition 0 of its topic at the next offset there
    (what a one-partition log of them looks like to reporting's apply and rebuild)."""
    from styrkedja_contracts import topic_for_event_type
    from styrkedja_kit.consumer import Delivered

    offsets: dict[str, int] = {}
    out = []
    for e in events:
        topic = topic_for_event_type(e.type).name
        out.append(Delivered(e, topic, 0, offsets.get(topic, 0)))
        offsets[topic] = offsets.get(topic, 0) + 1
    return out


@dataclass
class Mittkoping:
    """Synthetic assessments for two organisers, and the test's own record of what must count."""

    seed: int
    organisers: tuple[str, ...] = ()
    units: dict[str, list[str]] = field(default_factory=dict)  # organiser → school unit codes
    groups: dict[str, list[str]] = field(default_factory=dict)  # school unit → group ids
    areas: dict[str, list[str]] = field(default_factory=dict)  # organiser → its areas
    area_of: dict[str, str] = field(default_factory=dict)  # school unit → its area (verksamhetsområde)
    final: dict[str, dict] = field(default_factory=dict)  # assessment id → body of its newest revision, or None

    def __post_init__(self) -> None:
        rng = random.Random(self.seed)
        # letters only: a hex tag of six digits that makes a date ("850709") followed by a student
        # number would spell a personnummer, which the services rightly refuse (seen: 1 run in ~50)
        tag = "".join(random.Random(uuid.uuid4().int).choices(string.ascii_lowercase, k=6))
        self.rng = rng
        self.tag = tag
        self.placed = False  # the directory (and so the areas) was published to reporting
        self.issued = 0
        # identifiers drawn from fresh randomness, not the seed: every data set (test, benchmark
        # round) owns its organisers and units, even on topics shared with earlier runs
        fresh = random.Random(uuid.uuid4().int)
        # in the spelling every answer carries (`organisation_number`), so the record compares as it is
        self.organisers = ()
        while len(set(self.organisers)) != 2:
            self.organisers = tuple(organisation_number(fresh) for _ in range(2))
        codes = fresh.sample(range(10_000_000, 100_000_000), 8)  # distinct: no two units share a code
        for n, organiser in enumerate(self.organisers):
            self.units[organiser] = [str(code) for code in codes[4 * n:4 * n + 4]]
            self.areas[organiser] = [f"area-{tag}-{organiser}-{side}" for side in ("north", "south")]
            for i, unit in enumerate(self.units[organiser]):
                self.area_of[unit] = self.areas[organiser][i % 2]
                # the group's own id is short and the same in every school ("6A"): reporting scopes it by
                # the school unit, the test never relies on ids that happen to differ
                self.groups[unit] = [f"{year}{letter}" for year in (6, 9) for letter in "AB"]

    def new_assessments(self, count: int) -> list[dict]:
        items = []
        first, self.issued = self.issued, self.issued + count
        for n in range(first, first + count):
            organiser = self.organisers[n % 2]
            unit = self.rng.choice(self.units[organiser])
            group = self.rng.choice(self.groups[unit])
            items.append(self._body(organiser, unit, group, f"stu-{self.tag}-{n}", self.rng.choice(SUBJECTS)))
        return items

    def _body(self, organiser, unit, group, student, subject) -> dict:
        scale = "AF" if self.rng.random() < 0.7 else "THREE_LEVEL"
        value = self.rng.choice(AF if scale == "AF" else THREE)
        body = {"organiser_id": organiser, "school_unit_code": unit, "group_id": group, "student_id": student,
                "teacher_id": f"t-{group}", "gender": self.rng.choice(["female", "male", "unknown"]),
                "year": int(group[0]), "subject_code": subject,
                "kind": "assessment", "scale": scale, "value": value, "school_year": "2026/27", "term": "HT",
                "round": self.rng.randint(1, 2), "assessed_on": "2026-11-02"}
        return self.with_criteria(body)

    def with_criteria(self, body: dict) -> dict:
        below = not reaches_pass(Scale(body["scale"]), body["value"])
        return {**body, "unmet_criteria": ["Eleven resonerar inte om rimlighet"] if below else []}

    def revise(self, assessment_id: str) -> dict:
        body = dict(self.final[assessment_id])
        values = AF if body["scale"] == "AF" else THREE
        body["value"] = self.rng.choice([v for v in values if v != body["value"]])
        return {**self.with_criteria(body), "assessment_id": assessment_id}

    # -- the directory ------------------------------------------------------------------------------
    def directory_changes(self, at: datetime | None = None) -> list[dict]:
        """The organisation tree as directory changes for reporting's write API."""
        at = at or datetime.now(UTC)
        changes = []

        def unit(**data) -> None:
            changes.append({"type": "se.styrkedja.organisation.unit_upserted.v1",
                            "data": {**data, "updated_at": at.isoformat()}})

        for organiser in self.organisers:
            unit(unit_type="organiser", unit_id=organiser, organiser_id=organiser, name=f"Huvudman {organiser}")
            for area in self.areas[organiser]:
                unit(unit_type="area", unit_id=area, organiser_id=organiser, parent_id=organiser, name=area)
            for code in self.units[organiser]:
                unit(unit_type="school_unit", unit_id=f"su-{code}", organiser_id=organiser,
                     parent_id=self.area_of[code], name=f"Skola {code}", school_unit_code=code)
                for group in self.groups[code]:
                    unit(unit_type="group", unit_id=group, organiser_id=organiser, parent_id=f"su-{code}",
                         name=group, school_unit_code=code, year=int(group[0]))
        return changes

    def move(self, code: str) -> dict:
        """Move a school unit to its organiser's other area; the change for reporting's write API."""
        organiser = next(o for o, codes in self.units.items() if code in codes)
        self.area_of[code] = next(a for a in self.areas[organiser] if a != self.area_of[code])
        return {"type": "se.styrkedja.organisation.unit_upserted.v1", "data": {
            "unit_type": "school_unit", "unit_id": f"su-{code}", "organiser_id": organiser,
            "parent_id": self.area_of[code], "name": f"Skola {code}", "school_unit_code": code,
            "updated_at": datetime.now(UTC).isoformat()}}

    # -- the independent recomputation ------------------------------------------------------------
    def expected(self, levels: tuple[str, ...] = LEVELS) -> dict[tuple, Counter]:
        return self._cells((b for b in self.final.values() if b is not None), levels)

    def expected_of(self, organiser: str, levels: tuple[str, ...] = LEVELS) -> dict[tuple, Counter]:
        """One organiser's share of `expected`: its nation cells are its part of the nation's, as `reported` reads
        them with the organiser named (`check_by_organiser`)."""
        return self._cells((b for b in self.final.values() if b is not None and b["organiser_id"] == organiser),
                           levels)

    def _cells(self, bodies: Iterable[dict], levels: tuple[str, ...]) -> dict[tuple, Counter]:
        cells: dict[tuple, Counter] = {}
        for body in bodies:
            units = {"student": body["student_id"], "group": f"{body['school_unit_code']}/{body['group_id']}",
                     "school_unit": body["school_unit_code"],
                     "area": self.area_of.get(body["school_unit_code"]) if self.placed else None,
                     "organiser": body["organiser_id"], "nation": "SE"}
            for level in levels:
                if units[level] is None:  # not placed in an area: counts in every other level
                    continue
                key = (level, units[level], body["subject_code"], body["school_year"], body["term"], body["round"],
                       body["kind"], body["scale"])
                cells.setdefault(key, Counter())[body["value"]] += 1
        return cells

    def my_units(self) -> set[str]:
        return set(self.organisers) | {u for us in self.units.values() for u in us} | \
            {f"{u}/{g}" for u, gs in self.groups.items() for g in gs} | \
            {a for areas in self.areas.values() for a in areas} | {"SE"} | \
            {b["student_id"] for b in self.final.values() if b}

    def units_of(self, organiser: str) -> set[str]:
        """`my_units` of one organiser."""
        units = self.units[organiser]
        return {organiser, "SE", *units, *self.areas[organiser], *(f"{u}/{g}" for u in units for g in self.groups[u]),
                *(b["student_id"] for b in self.final.values() if b and b["organiser_id"] == organiser)}


def publish_directory(reporting_url: str, data: Mittkoping, changes: list[dict] | None = None, *,
                      tokens: Tokens) -> dict:
    """Send directory changes (default: the whole tree) to reporting, as the organisers' platform
    client, which publishes them as organisation events; from now on the recomputation places school
    units in their areas."""
    response = httpx.post(reporting_url + "/v1/directory/changes", headers=tokens.platform(*data.organisers),
                          json={"items": changes or data.directory_changes()}, timeout=60)
    assert response.status_code == 200, response.text
    data.placed = True
    return response.json()


def _cells_of(client: httpx.Client, level: str, organiser: str) -> list[dict]:
    """An organiser's cells at `level`: a read of more than reporting's bound (`too_many_cells`: at student level an
    organiser over 40,000 results, as the bench's 12 organisers are from ~500k events) is read per subject and
    school year, those the organiser level names."""
    response = client.get("/v1/results/assessments", params={"level": level, "organiser_id": organiser})
    if response.status_code == 422 and "too_many_cells" in response.text:
        slices = {(c["subject_code"], c["school_year"]) for c in _cells_of(client, "organiser", organiser)}
        return [cell for subject, year in sorted(slices) for cell in _read(client, {
            "level": level, "organiser_id": organiser, "subject_code": subject, "school_year": year})]
    response.raise_for_status()
    return response.json()


def _read(client: httpx.Client, params: dict[str, str]) -> list[dict]:
    response = client.get("/v1/results/assessments", params=params)
    response.raise_for_status()
    return response.json()


def reported(reporting_url: str, units: set[str], organisers: tuple[str, ...],
             levels: tuple[str, ...] = LEVELS, *, tokens: Tokens) -> dict[tuple, Counter]:
    """What reporting shows the organisers' admin (exact figures, every level)."""
    cells: dict[tuple, Counter] = {}
    with httpx.Client(base_url=reporting_url, timeout=30, headers=tokens.admin(*organisers)) as client:
        for level in levels:
            found = []
            for organiser in organisers:
                found += _cells_of(client, level, organiser)
            for cell in found:
                if cell["unit_id"] not in units:
                    continue
                key = (cell["level"], cell["unit_id"], cell["subject_code"], cell["school_year"], cell["term"],
                       cell["round"], cell["kind"], cell["scale"])
                dist = Counter({k: v for k, v in cell["distribution"].items() if v})
                assert cell["assessed"] == sum(dist.values())
                passing = sum(n for v, n in dist.items() if reaches_pass(Scale(cell["scale"]), v))
                assert cell["reaching_pass"] == passing
                assert cell["share_reaching_pass"] == round(passing / cell["assessed"], 4)
                cells[key] = cells.get(key, Counter()) + dist  # nation: one cell per organiser, summed
    return cells


def wait_until_exact(reporting_url: str, data: Mittkoping, timeout: float = 120,
                     levels: tuple[str, ...] = LEVELS, *, tokens: Tokens) -> float:
    """Poll the reporting API until it equals the recomputation; returns the seconds it took.
    Without the directory published, leave "area" out of `levels` (nothing is placed)."""
    started = time.monotonic()
    expected = data.expected(levels)
    units = data.my_units()
    got = None
    while time.monotonic() - started < timeout:
        try:
            got = reported(reporting_url, units, data.organisers, levels, tokens=tokens)
        except httpx.HTTPError:
            got = None
        if got == expected:
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"reporting never matched the recomputation: {_differences(expected, got)} (timeout "
                         f"{timeout:.0f} s); {consumer_diagnosis(reporting_url)}")


def differing_cells(expected: dict[tuple, Counter], got: dict[tuple, Counter] | None) -> tuple[dict, dict]:
    """(the expected cells reported otherwise or not at all, the reported cells not expected)."""
    missing = {k: v for k, v in expected.items() if got is None or got.get(k) != v}
    extra = {k: v for k, v in (got or {}).items() if k not in expected}
    return missing, extra


def _differences(expected: dict[tuple, Counter], got: dict[tuple, Counter] | None) -> str:
    missing, extra = differing_cells(expected, got)
    return (f"{len(missing)} cells differ (e.g. {list(missing.items())[:3]}), {len(extra)} unexpected cells "
            f"(e.g. {list(extra.items())[:3]})")


def check_by_organiser(reporting_url: str, data: Mittkoping, timeout: float = 600,
                       levels: tuple[str, ...] = LEVELS, *, tokens: Tokens) -> float:
    """`wait_until_exact` one organiser at a time: its recomputed and reported cells of every level built, compared
    (polled until equal) and dropped before the next organiser's. At the issue's 6.4M results every level at once
    is tens of millions of cells on each side (the bench process was OOM-killed at 21.5 GB, bench/README.md
    scale29); one organiser's are its share. The nation level is compared as `reported` reads it, organiser by
    organiser (each organiser's part of the nation's cells). `timeout` bounds the whole check; the seconds taken."""
    started = time.monotonic()
    for organiser in data.organisers:
        expected = data.expected_of(organiser, levels)
        units = data.units_of(organiser)
        while True:
            try:
                got = reported(reporting_url, units, (organiser,), levels, tokens=tokens)
            except httpx.HTTPError:
                got = None
            if got == expected:
                break
            if time.monotonic() - started > timeout:
                raise AssertionError(f"reporting never matched the recomputation for organiser {organiser}: "
                                     f"{_differences(expected, got)} (timeout {timeout:.0f} s); "
                                     f"{consumer_diagnosis(reporting_url)}")
            time.sleep(0.1)
        del expected, got
    return time.monotonic() - started


#: reporting's consumer counters a failure message quotes (their sums over the labels)
DIAGNOSED_METRICS = ("styrkedja_consumer_events_applied_total", "styrkedja_consumer_duplicates_total",
                     "styrkedja_consumer_dead_lettered_total", "styrkedja_consumer_prefetch_discarded_total",
                     "styrkedja_consumer_conflict_retries_total", "styrkedja_consumer_rewinds_total")


#: each running service's log file by its URL (filled by `stacks.running_stack`), for `consumer_diagnosis`
SERVICE_LOGS: dict[str, Path] = {}
#: how many of a service's last warnings and errors a failure message quotes
LOGGED_LINES = 15


def logged_warnings(service_url: str, lines: int = LOGGED_LINES) -> str:
    """The last `lines` lines of the service's log (where the stack keeps one) that warn or tell of an error."""
    path = SERVICE_LOGS.get(service_url)
    if path is None or not path.exists():
        return ""
    with path.open("rb") as log_file:
        log_file.seek(max(0, path.stat().st_size - 2_000_000))
        text = log_file.read().decode("utf-8", "replace")
    said = [line for line in text.splitlines() if any(word in line for word in ("WARNING", "ERROR", "Traceback",
                                                                                    '"warning"', '"error"'))]
    return f"its log's last warnings ({path}): " + " | ".join(line[:300] for line in said[-lines:]) if said else ""


def consumer_diagnosis(service_url: str) -> str:
    """What a service's consumers said when a wait for them ended (for a failure message, asked once then): its
    /readyz checks and each consumer's status (assigned, lag, applied since start, last failure), the sums of
    its consumer counters from /metrics (applied, dead-lettered, batches discarded as fetched across a rebalance),
    and the last warnings in its log where the test's stack keeps one."""
    parts = []
    try:
        body = httpx.get(service_url + "/readyz", timeout=10).json()
        parts.append(f"/readyz {body.get('status')}: checks {body.get('checks')}, consumers {body.get('consumers')}")
    except (httpx.HTTPError, ValueError) as error:
        parts.append(f"/readyz did not answer ({type(error).__name__})")
    try:
        text = httpx.get(service_url + "/metrics", timeout=10).text
        sums: dict[str, float] = {}
        for line in text.splitlines():
            name = line.split("{", 1)[0].split(" ", 1)[0]  # `name{labels} value` or `name value`
            if name in DIAGNOSED_METRICS:
                sums[name] = sums.get(name, 0.0) + float(line.rsplit(" ", 1)[-1])
        parts.append("metrics " + ", ".join(f"{name.removeprefix('styrkedja_consumer_')}={int(total)}"
                                            for name, total in sums.items()))
    except (httpx.HTTPError, ValueError) as error:
        parts.append(f"/metrics did not answer ({type(error).__name__})")
    if said := logged_warnings(service_url):
        parts.append(said)
    return "; ".join(parts)


@dataclass
class IngestReport:
    posted: int = 0
    stored: int = 0
    unchanged: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.posted / self.seconds if self.seconds else 0.0


def ingest(assessment_url: str, data: Mittkoping, *, new: int, revisions: int, retractions: int,
           duplicates: int, tokens: Tokens, batch_size: int = 500, between_batches=None) -> IngestReport:
    """Publish through the HTTP API, as a school platform would (its client's token for both
    organisers), keeping `data.final` up to date."""
    report = IngestReport()
    started = time.monotonic()
    with httpx.Client(base_url=assessment_url, timeout=60, headers=tokens.platform(*data.organisers)) as client:
        def post_batch(items: list[dict]) -> list[dict]:
            response = client.post("/v1/assessments/batch", json={"items": items})
            body = response.json()
            # the one write path: 201 when anything was stored, 200 when it was all sent before
            assert response.status_code == (201 if body.get("stored") else 200), response.text
            report.posted += len(items)
            report.stored += body["stored"]
            report.unchanged += body["unchanged"]
            if between_batches:
                between_batches(report)
            return body["items"]

        fresh = data.new_assessments(new)
        for start in range(0, len(fresh), batch_size):
            chunk = fresh[start:start + batch_size]
            for body, result in zip(chunk, post_batch(chunk), strict=True):
                data.final[result["assessment_id"]] = body
        ids = [i for i, body in data.final.items() if body is not None]  # a data set may be fed twice
        revised = [data.revise(i) for i in data.rng.sample(ids, revisions)]
        for start in range(0, len(revised), batch_size):
            chunk = revised[start:start + batch_size]
            for body, result in zip(chunk, post_batch(chunk), strict=True):
                assert result["status"] == "stored" and result["revision"] >= 2
                data.final[result["assessment_id"]] = {k: v for k, v in body.items() if k != "assessment_id"}
        for assessment_id in data.rng.sample(ids, retractions):
            response = client.post(f"/v1/assessments/{assessment_id}/retract", json={"reason": "fel elev"})
            assert response.status_code == 200, response.text
            report.posted += 1
            report.stored += 1
            data.final[assessment_id] = None
        live = [i for i in ids if data.final[i] is not None]
        resent = [{**data.final[i], "assessment_id": i} for i in data.rng.sample(live, duplicates)]
        for start in range(0, len(resent), batch_size):
            results = post_batch(resent[start:start + batch_size])
            assert all(r["status"] == "unchanged" for r in results)
    report.seconds = time.monotonic() - started
    return report


# -- the figures' state, recomputed independently from the final facts ----------------------------
_GENDERS = ("female", "male", "unknown")


def figure_units(body: dict, area_of: dict[str, str | None]) -> list[tuple[str, str]]:
    """(level, unit id) of every materialised level a result counts in (the area only when placed)."""
    out = [("group", f"{body['school_unit_code']}/{body['group_id']}"), ("school_unit", body["school_unit_code"])]
    if area_of.get(body["school_unit_code"]):
        out.append(("area", area_of[body["school_unit_code"]]))
    return out + [("organiser", body["organiser_id"]), ("nation", "SE")]


def expected_figures(final: Iterable[dict | None], area_of: dict[str, str | None]) -> dict[str, dict]:
    """What the figure tables must hold, from the final facts (published bodies; None = retracted):
    `pass`: cell → (assessed, reaching) per gender as six counters, then the distinct students with a
    result (coverage); `dates`: (cell, day) → results; `students`: (group cell, student id) → results
    (the multiset is kept at group level only). A cell is (level, unit, organiser, subject, year,
    school year, period) and a result counts in its term (`HT`/`VT`) and its round (`R1`…`R4`)."""
    passes: dict[tuple, list[int]] = {}
    dates: Counter = Counter()
    students: Counter = Counter()
    for body in final:
        if body is None:
            continue
        reaches = reaches_pass(Scale(body["scale"]), body["value"])
        g = _GENDERS.index(body["gender"])
        for level, unit in figure_units(body, area_of):
            for period in (body["term"], f"R{body['round']}"):
                cell = (level, unit, body["organiser_id"], body["subject_code"], body["year"], body["school_year"],
                        period)
                counters = passes.setdefault(cell, [0] * 6)
                counters[2 * g] += 1
                counters[2 * g + 1] += int(reaches)
                dates[(*cell, str(body["assessed_on"]))] += 1
                students[(*cell, body["student_id"])] += 1
    distinct = Counter(key[:-1] for key in students)
    return {"pass": {k: (*v, distinct[k]) for k, v in passes.items()}, "dates": dict(dates),
            "students": {k: n for k, n in students.items() if k[0] == "group"}}


_MERIT = {"A": 20.0, "B": 17.5, "C": 15.0, "D": 12.5, "E": 10.0, "F": 0.0}  # Skolverket, meritpoäng
_PREPARATORY_EXTRA = {"preparatory_ek_hu_sa": {"GRGRGEO01", "GRGRHIS01", "GRGRREL01", "GRGRSAM01"},
                      "preparatory_na_te": {"GRGRBIO01", "GRGRFYS01", "GRGRKEM01"}, "preparatory_es": set()}


def expected_forecast_outcomes(forecasts: Iterable[dict | None], results: Iterable[dict | None],
                               area_of: dict[str, str | None]) -> dict[tuple, tuple[int, int, int, int]]:
    """(level, unit, organiser, subject, year, gender, school year, term) → (held, said reaches but
    did not, said not reached but did, no outcome): each forecast against the student's result in
    the subject and term set after the forecast's day (a term grade first, then the newest)."""
    by_key: dict[tuple, list[dict]] = {}
    for r in results:
        if r is not None:
            by_key.setdefault((r["student_id"], r["subject_code"], r["school_year"], r["term"]), []).append(r)
    out: dict[tuple, list[int]] = {}
    for f in forecasts:
        if f is None:
            continue
        day = str(f["submitted_at"])[:10]
        later = [r for r in by_key.get((f["student_id"], f["subject_code"], f["school_year"], f["term"]), [])
                 if str(r["assessed_on"]) > day]
        said = f["value"] != "NOT_REACHED"
        if not later:
            slot = 3
        else:
            outcome = max(later, key=lambda r: (r["kind"] == "term_grade", str(r["assessed_on"]), r["round"],
                                                str(r["assessment_id"])))
            did = reaches_pass(Scale(outcome["scale"]), outcome["value"])
            slot = 0 if did == said else (1 if said else 2)
        for level, unit in figure_units(f, area_of):
            key = (level, unit, f["organiser_id"], f["subject_code"], f["year"], f["gender"], f["school_year"],
                   f["term"])
            out.setdefault(key, [0, 0, 0, 0])[slot] += 1
    return {k: tuple(v) for k, v in out.items()}  # type: ignore[misc]


def expected_merit(results: Iterable[dict | None], area_of: dict[str, str | None]) -> dict[tuple, tuple]:
    """(level, unit, organiser, year, gender, school year, term) → (graded, all pass, year-9 students,
    merit sum in half points, eligible vocational, ek/hu/sa, na/te, es), from the term grades: per
    subject the newest grade; the student counts where their newest grade was set."""
    students: dict[tuple, dict[str, dict]] = {}
    for r in results:
        if r is None or r["kind"] != "term_grade":
            continue
        grades = students.setdefault((r["student_id"], r["school_year"], r["term"]), {})
        now = grades.get(r["subject_code"])
        if now is None or (str(r["assessed_on"]), str(r["assessment_id"])) > \
                (str(now["assessed_on"]), str(now["assessment_id"])):
            grades[r["subject_code"]] = r
    out: dict[tuple, list[int]] = {}
    for grades in students.values():
        newest = max(grades.values(), key=lambda r: (str(r["assessed_on"]), str(r["assessment_id"])))
        values = {s: r["value"] for s, r in grades.items()}
        passed = {s for s, v in values.items() if v != "F"}
        row = [0] * 8
        if 6 <= newest["year"] <= 9:
            row[0], row[1] = 1, int(passed == set(values))
        if newest["year"] == 9:
            choice = [_MERIT[v] for s, v in values.items() if s.startswith(("GRGRM2", "GRGRMSP"))]
            rest = sorted((_MERIT[v] for s, v in values.items() if not s.startswith(("GRGRM2", "GRGRMSP"))),
                          reverse=True)
            row[2], row[3] = 1, int(2 * (sum(rest[:16]) + max(choice, default=0)))
            core = bool(passed & {"GRGRSVE01", "GRGRSVA01"}) and {"GRGRENG01", "GRGRMAT01"} <= passed
            others = passed - {"GRGRSVE01", "GRGRSVA01", "GRGRENG01", "GRGRMAT01"}
            row[4] = int(core and len(others) >= 5)
            for i, extra in enumerate(_PREPARATORY_EXTRA.values()):
                row[5 + i] = int(core and len(others) >= 9 and extra <= others)
        if not any(row):
            continue
        for level, unit in figure_units(newest, area_of):
            key = (level, unit, newest["organiser_id"], newest["year"], newest["gender"], newest["school_year"],
                   newest["term"])
            out[key] = [a + b for a, b in zip(out.get(key, [0] * 8), row, strict=True)]
    return {k: tuple(v) for k, v in out.items() if any(v)}


@contextmanager
def killed_meanwhile(process: ServiceProcess, pauses: Iterable[float], *, down: float,
                     ready_timeout: float) -> Iterator[list[float]]:
    """While the body runs, in a thread: after each pause, SIGKILL `process`, start it again `down` seconds
    later and wait until it is ready. Yields the kill times (`time.monotonic()`); the block ends when
    every kill is done (a body that raises stops the kills not yet begun)."""
    kills: list[float] = []
    stop = threading.Event()

    def killer() -> None:
        for pause in pauses:
            if stop.wait(pause):
                return
            process.kill()
            kills.append(time.monotonic())
            time.sleep(down)
            process.start()
            process.wait_ready(ready_timeout)

    thread = threading.Thread(target=killer)
    thread.start()
    try:
        yield kills
    except BaseException:
        stop.set()
        raise
    finally:
        thread.join()


def other_form(document: dict[str, Any]) -> bytes:
    """The same JSON value in other bytes: keys in reverse order, indented, non-ASCII as escapes."""
    def reordered(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: reordered(value[k]) for k in reversed(list(value))}
        return value
    return json.dumps(reordered(document), indent=2, ensure_ascii=True).encode()


@contextmanager
def uvicorn_lines(start_app: Callable[[], object]) -> Iterator[io.StringIO]:
    """uvicorn's logging as its command line sets it up (before the app is imported), then `start_app` (the app's
    own set-up), every server line into one buffer; the loggers as they were afterwards."""
    names = ("", "uvicorn", "uvicorn.error", "uvicorn.access")
    saved = {name: (logging.getLogger(name).handlers[:], logging.getLogger(name).filters[:],
                    logging.getLogger(name).propagate, logging.getLogger(name).level) for name in names}
    logging.config.dictConfig(LOGGING_CONFIG)
    for name in names:
        logging.getLogger(name).filters[:] = []  # whatever another test's app put there
    start_app()
    buffer = io.StringIO()
    for name in ("uvicorn", "uvicorn.access"):
        for handler in logging.getLogger(name).handlers:
            handler.setStream(buffer)  # type: ignore[attr-defined]
    try:
        yield buffer
    finally:
        for name, (handlers, filters, propagate, level) in saved.items():
            one = logging.getLogger(name)
            one.handlers[:], one.filters[:], one.propagate = handlers, filters, propagate
            one.setLevel(level)
