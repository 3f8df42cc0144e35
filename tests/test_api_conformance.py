"""The good-input side of the services' OpenAPI documents, as a client generated from them sees it.

`test_openapi_fuzz.py` and the hostile tests send what a client should not; here every operation of each
service is sent a request its document says is valid — optional fields left out, `null` where allowed, Unicode
free text, the largest batch, limits at their maxima — in the order a client would (write, then read what was
written), and every answer must be a 2xx that conforms to the operation's documentation (status code, content
type, response schema: schemathesis' own checks against the served document). The same request again, an older
revision and a removal answer as documented; paging through what reporting holds visits each item once while
writes go on. Every event the services wrote for those requests (their outboxes: the bytes the relay publishes
unchanged) validates against the contracts' exported JSON Schemas, not only the pydantic models.

Each service runs in-process on a fresh database (`running`, shared with the fuzz and hostile tests: only
identifiers of this module's own are written, under the broad token's organiser).
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jsonschema
import pytest
import schemathesis
from inprocess import ORGANISER, RunningService, auth
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from test_api_round29 import STANDARD as STANDARD_HEADERS

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]
CONTRACTS = Path(__file__).resolve().parents[1] / "packages" / "contracts"
#: the operations left out: /readyz asks the broker (its answer is the fuzz test's), /metrics is plain text
NOT_SENT = {("GET", "/readyz"), ("GET", "/metrics")}
UNIT = "29990011"
#: free text in several scripts, with the characters the text rules keep (ZWJ in an emoji, RLM in Arabic)
UNICODE_TEXT = "Ålö – Øre, ÆØÅ; Ελληνικά; Кириллица; עברית; العربية\u200f; 中文; 👩\u200d🏫"


class Client:
    """Sends one documented operation and judges the answer by the served document."""

    def __init__(self, name: str, running: RunningService, issuer: Any) -> None:
        self.name = name
        self.url = running.url
        self.headers = auth(issuer)
        self.schema = schemathesis.openapi.from_url(f"{running.url}/openapi.json", headers=self.headers)
        self.sent: set[tuple[str, str]] = set()
        self.wrong: list[str] = []

    def operations(self) -> set[tuple[str, str]]:
        return {(op.method.upper(), op.path) for op in (r.ok() for r in self.schema.get_all_operations())}

    def call(self, method: str, path: str, *, path_parameters: dict[str, Any] | None = None,
             query: dict[str, Any] | None = None, body: Any = None, expect: tuple[int, ...] = (200, 201),
             headers: dict[str, str] | None = None) -> httpx.Response | None:
        operation = self.schema[path][method.lower()]
        self.sent.add((method.upper(), path))
        kwargs: dict[str, Any] = {"path_parameters": path_parameters or {}, "query": query or {}}
        if body is not None:
            kwargs |= {"body": body, "media_type": "application/json"}
        case = operation.Case(**kwargs)
        label = f"{method} {path} {path_parameters or ''} {query or ''}"
        try:
            response = case.call(base_url=self.url, headers=self.headers | (headers or {}))
            case.validate_response(response, checks=CHECKS)
        except Exception as error:  # every operation's mismatch, then one failure naming them all
            self.wrong.append(f"{label}: {type(error).__name__}: {str(error)[:1200]}")
            return None
        if response.status_code not in expect:
            self.wrong.append(f"{label}: {response.status_code} (expected {expect}): {response.text[:600]}")
            return None
        self.wrong += [f"{label}: {problem}" for problem in self.undocumented(operation, response)]
        headers_ = [(k, v) for k, values in response.headers.items() for v in values]
        return httpx.Response(response.status_code, headers=headers_, content=response.content)

    def undocumented(self, operation: Any, response: Any) -> list[str]:
        """What schemathesis lets pass but a generated client cannot use: a body under a status documented
        without content (the client expects none), and JSON documented as `{}` (any value: a client gets no
        types, and a `null` with its reason code is nowhere said)."""
        documented = operation.definition.raw["responses"].get(str(response.status_code), {})
        content = documented.get("content")
        if response.content and not content:
            return [f"{response.status_code} answers a body ({response.headers.get('content-type')}) its document "
                    "says nothing of"]
        # a header sent but documented nowhere is one a generated client never exposes (round 29: a file's name)
        said = {name.lower() for name in documented.get("headers") or {}}
        unsaid = [f"{response.status_code} sends header {name}, undocumented there" for name in response.headers
                  if name.lower() not in STANDARD_HEADERS | said]
        if unsaid:
            return unsaid
        media = (response.headers.get("content-type") or [""])[0].split(";")[0]
        if media == "application/json" and not (content or {}).get("application/json", {}).get("schema"):
            return [f"{response.status_code} JSON documented without a schema"]
        return []

    def done_sending(self) -> None:
        assert not self.wrong, f"{self.name}:\n" + "\n\n".join(self.wrong)

    def done(self) -> None:
        """Every answer as documented, and a valid request sent to every operation of the document."""
        self.done_sending()
        unsent = sorted(self.operations() - self.sent - NOT_SENT)
        assert not unsent, f"{self.name}: operations of its document no valid request was sent to: {unsent}"


def _assessment(**overrides: Any) -> dict[str, Any]:
    """Only the required fields: `assessment_id`, `revision` and `unmet_criteria` left out."""
    return {"organiser_id": ORGANISER, "school_unit_code": UNIT, "group_id": "conform-7A", "student_id": "conform-s1",
            "teacher_id": "conform-t1", "gender": "female", "year": 7, "subject_code": "GRGRMAT01",
            "kind": "assessment", "scale": "AF", "value": "C", "school_year": "2026/27", "term": "HT", "round": 1,
            "assessed_on": "2026-10-01"} | overrides


def _forecast(**overrides: Any) -> dict[str, Any]:
    return {"organiser_id": ORGANISER, "school_unit_code": UNIT, "group_id": "conform-7A", "student_id": "conform-s1",
            "teacher_id": "conform-t1", "gender": "male", "year": 7, "subject_code": "GRGRMAT01",
            "school_year": "2098/99", "term": "HT", "value": "ACCEPTABLE"} | overrides


def _same_but_status(first: httpx.Response, again: httpx.Response) -> None:
    a, b = first.json(), again.json()
    assert {k: v for k, v in a.items() if k != "status"} == {k: v for k, v in b.items() if k != "status"}, (a, b)
    assert (a["status"], b["status"]) == ("stored", "unchanged"), (a, b)


def _record_flow(c: Client, prefix: str, id_name: str, removal: str, item: Callable[..., dict[str, Any]],
                 max_batch: int, *, derived_id: bool = False) -> None:
    """A record written with numbered revisions (kit's `record_routes`), as a client retries it. A client that
    retries safely names its new record's id itself: the same POST twice answers the same (an id-less POST sent
    again is the documented 409 naming the id to revise: the service cannot tell a retry from a second result
    for the same key). A forecast's id is derived from its key (`derived_id`): the id-less POST is the retry."""
    chosen: Callable[[], dict[str, str]] = dict if derived_id else (lambda: {id_name: str(uuid.uuid4())})
    named = chosen()
    first = c.call("POST", prefix, body=item(**named), expect=(201,))
    again = c.call("POST", prefix, body=item(**named), expect=(200,))
    assert first is not None and first.json()[id_name] == named.get(id_name, first.json()[id_name])
    ident = first.json()[id_name]
    assert again is not None
    _same_but_status(first, again)
    # with its id and an explicit revision, twice: 201 then 200; the older revision then is the documented 409
    second = c.call("POST", prefix, body=item(**{id_name: ident, "revision": 2}), expect=(201,))
    assert second is not None and second.json()["revision"] == 2
    repeated = c.call("POST", prefix, body=item(**{id_name: ident, "revision": 2}), expect=(200,))
    assert repeated is not None
    _same_but_status(second, repeated)
    c.call("POST", prefix, body=item(**{id_name: ident, "revision": 1}), expect=(409,))
    # the largest batch the service takes, then the same batch again (200, every item unchanged)
    batch = {"items": [item(student_id=f"conform-b{i}", **chosen()) for i in range(max_batch)]}
    stored = c.call("POST", f"{prefix}/batch", body=batch, expect=(201,))
    same = c.call("POST", f"{prefix}/batch", body=batch, expect=(200,))
    assert stored is not None and same is not None
    assert len(stored.json()["items"]) == max_batch
    assert [i[id_name] for i in stored.json()["items"]] == [i[id_name] for i in same.json()["items"]]
    # the removal with no body, and with every optional field `null`
    c.call("POST", f"{prefix}/{{{id_name}}}/{removal}", path_parameters={id_name: ident}, expect=(200,))
    other = c.call("POST", prefix, body=item(student_id="conform-s2"), expect=(201,))
    assert other is not None
    nulls = {k: None for k in ("revision", "reason") if k in _removal_fields(c, prefix, removal)}
    c.call("POST", f"{prefix}/{{{id_name}}}/{removal}", path_parameters={id_name: other.json()[id_name]},
           body=nulls, expect=(200,))


def _removal_fields(c: Client, prefix: str, removal: str) -> set[str]:
    operation = next(op for op in (r.ok() for r in c.schema.get_all_operations())
                     if op.path.startswith(prefix + "/{") and op.path.endswith(removal))
    body = operation.definition.raw["requestBody"]["content"]["application/json"]["schema"]
    for option in body.get("anyOf", [body]):
        if "$ref" in option:
            name = option["$ref"].rsplit("/", 1)[1]
            return set(c.schema.raw_schema["components"]["schemas"][name]["properties"])
    return set()


def assessment_flow(c: Client, max_batch: int = 1000) -> None:
    def assessment(**overrides: Any) -> dict[str, Any]:
        return _assessment(**overrides)

    _record_flow(c, "/v1/assessments", "assessment_id", "retract", assessment, max_batch)
    # a result below the pass level names its criteria: free text in any script, the most criteria allowed
    c.call("POST", "/v1/assessments", body=_assessment(student_id="conform-s3", value="F", unmet_criteria=[
        f"{UNICODE_TEXT} {i}" for i in range(100)]), expect=(201,))

    def intervention(**overrides: Any) -> dict[str, Any]:
        return {"organiser_id": ORGANISER, "school_unit_code": UNIT, "group_id": "conform-7A",
                "student_id": "conform-s1", "kind": "extra_adjustment", "status": "decided",
                "start_date": "2026-09-01", "decided_by_role": "teacher", "decided_by": "conform-t1",
                "decided_on": "2026-09-01"} | overrides

    _record_flow(c, "/v1/support-interventions", "intervention_id", "retract", intervention, max_batch)
    c.call("POST", "/v1/support-interventions", body=intervention(
        student_id="conform-s4", subject_code=None, evaluation_date=None, evaluation_outcome=None,
        description=UNICODE_TEXT), expect=(201,))

    def plan(**overrides: Any) -> dict[str, Any]:
        student = overrides.pop("student_id", None)  # a plan is per group: the batch's items differ by group
        group = {"group_id": f"conform-{student}"} if student else {}
        return {"organiser_id": ORGANISER, "school_unit_code": UNIT, "group_id": "conform-7A",
                "subject_code": "GRGRMAT01", "school_year": "2026/27", "term": "HT", "title": "Bråk och procent",
                "published_on": "2026-09-01"} | group | overrides

    _record_flow(c, "/v1/plans", "plan_id", "retract", plan, max_batch)
    c.call("POST", "/v1/plans", body=plan(group_id="conform-9B", title="Ελληνικά – عربي – 中文", link=None,
                                          criteria_codes=[]), expect=(201,))


def forecast_flow(c: Client, max_batch: int = 1000) -> None:
    path = {"organiser_id": ORGANISER}
    calendar = c.call("GET", "/v1/calendars/{organiser_id}", path_parameters=path, expect=(200,))
    assert calendar is not None
    own = {"forecast_windows": [{"term": "HT", "iso_week": 43, "deadline_weekday": 5},
                                {"term": "VT", "iso_week": 13, "deadline_weekday": 5}],
           "grace_days": 60, "round_deadlines": [{"round": r, "term": "HT", "iso_week": 40 + r} for r in range(1, 5)]}
    c.call("PUT", "/v1/calendars/{organiser_id}", path_parameters=path, body=own, expect=(200,))
    c.call("PUT", "/v1/calendars/{organiser_id}", path_parameters=path, body={}, expect=(200,))  # all defaults

    def forecast(**overrides: Any) -> dict[str, Any]:
        return _forecast(**overrides)

    _record_flow(c, "/v1/forecasts", "forecast_id", "withdraw", forecast, max_batch, derived_id=True)


def lika_flow(c: Client) -> None:
    index = c.call("GET", "/v1/catalogue", expect=(200,))
    assert index is not None
    version = index.json()["latest_version"]
    catalogue = c.call("GET", "/v1/catalogue/{version}", path_parameters={"version": version},
                       query={"school_form": "grundskola"}, expect=(200,))
    assert catalogue is not None
    indicators = [(i["id"], area["id"]) for area in catalogue.json()["areas"] for i in area["indicators"]]
    assert indicators, catalogue.text[:500]
    ids = []
    for role in ("rektor", "teacher_team"):
        draft = {"organiser_id": ORGANISER, "school_unit_code": UNIT, "school_form": "grundskola",
                 "respondent_role": role, "catalogue_version": version}
        created = c.call("POST", "/v1/self-assessments", body=draft, expect=(201,))
        assert created is not None
        sid = created.json()["self_assessment_id"]
        ids.append(sid)
        again = c.call("POST", "/v1/self-assessments", body=draft | {"self_assessment_id": sid}, expect=(200,))
        assert again is not None and again.json()["self_assessment_id"] == sid
        ratings = [{"indicator_id": i, "rating": "PLANNED" if n % 2 else "STARTED",
                    "comment": UNICODE_TEXT if n == 0 else None} for n, (i, _) in enumerate(indicators)]
        c.call("PATCH", "/v1/self-assessments/{self_assessment_id}/ratings", path_parameters={"self_assessment_id": sid},
               body={"ratings": ratings}, expect=(200,))
        c.call("DELETE", "/v1/self-assessments/{self_assessment_id}/ratings/{indicator_id}",
               path_parameters={"self_assessment_id": sid, "indicator_id": indicators[0][0]}, expect=(204,))
        c.call("PATCH", "/v1/self-assessments/{self_assessment_id}/ratings", path_parameters={"self_assessment_id": sid},
               body={"ratings": ratings[:1]}, expect=(200,))
        c.call("GET", "/v1/self-assessments/{self_assessment_id}", path_parameters={"self_assessment_id": sid})
        finalise = "publish" if role == "rektor" else "keep-private"
        c.call("POST", f"/v1/self-assessments/{{self_assessment_id}}/{finalise}",
               path_parameters={"self_assessment_id": sid}, expect=(200,))
    sid = ids[0]
    c.call("GET", "/v1/self-assessments", query={"organiser_id": ORGANISER, "school_unit_code": UNIT})
    c.call("GET", "/v1/self-assessments/compare", query={"first": ids[0], "second": ids[1]})
    plan = c.call("GET", "/v1/self-assessments/{self_assessment_id}/action-plan",
                  path_parameters={"self_assessment_id": sid})
    assert plan is not None
    activity = _first_activity(plan.json())
    c.call("PATCH", "/v1/self-assessments/{self_assessment_id}/action-plan/items/{activity_id}",
           path_parameters={"self_assessment_id": sid, "activity_id": activity},
           body={"priority": 1, "owner": "Åsa Öberg", "tags": ["IKT", "العربية"], "note": UNICODE_TEXT}, expect=(200,))
    c.call("PATCH", "/v1/self-assessments/{self_assessment_id}/action-plan/items/{activity_id}",
           path_parameters={"self_assessment_id": sid, "activity_id": activity},
           body={"owner": None, "due_date": None, "note": None}, expect=(200,))
    c.call("GET", "/v1/self-assessments/{self_assessment_id}/export.xlsx", path_parameters={"self_assessment_id": sid})
    c.call("GET", "/v1/self-assessments/{self_assessment_id}/action-plan/export.xlsx",
           path_parameters={"self_assessment_id": sid})
    published = {"organiser_id": ORGANISER, "school_unit_code": UNIT, "school_form": "grundskola",
                 "respondent_role": "management_team", "catalogue_version": version,
                 "ratings": [{"indicator_id": i, "area": a, "rating": "ACHIEVED"} for i, a in indicators]}
    first = c.call("POST", "/v1/self-assessments/published", body=published, expect=(201,))
    assert first is not None
    again = c.call("POST", "/v1/self-assessments/published",
                   body=published | {"self_assessment_id": first.json()["self_assessment_id"]}, expect=(200,))
    assert again is not None


def _first_activity(plan: dict[str, Any]) -> str:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "activity_id" in node:
                found.append(node["activity_id"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(plan)
    assert found, plan
    return found[0]


def _unit(kind: str, unit_id: str, parent: str | None, name: str, **extra: Any) -> dict[str, Any]:
    data = {"unit_type": kind, "unit_id": unit_id, "organiser_id": ORGANISER, "name": name,
            "updated_at": "2026-08-14T06:30:00+02:00"} | extra
    if parent is not None:
        data["parent_id"] = parent
    return {"type": "se.styrkedja.organisation.unit_upserted.v1", "data": data}


def _directory(groups: int) -> list[dict[str, Any]]:
    return [_unit("organiser", ORGANISER, None, "Exempelby kommun"),
            _unit("area", "conform-area", ORGANISER, "Område Ø – Ελληνικά"),
            _unit("school_unit", UNIT, "conform-area", "Skolan Åäö – العربية", school_unit_code=UNIT, roster_size=420),
            *(_unit("group", f"conform-g{i}", UNIT, f"Grupp {i} – 中文", school_unit_code=UNIT, year=7,
                    roster_size=25) for i in range(groups))]


def reporting_flow(c: Client) -> None:
    org = {"organiser_id": ORGANISER}
    period = {"school_year": "2026/27", "term": "HT"}
    c.call("POST", "/v1/directory/changes", body={"items": _directory(20)})
    unchanged = c.call("POST", "/v1/directory/changes", body={"items": _directory(20)})
    assert unchanged is not None and unchanged.json()["created"] == 0, unchanged.json()
    c.call("GET", "/v1/directory/organisers/{organiser_id}/tree", path_parameters=org)
    # the directory's writes reach its tables through the topic (the consumer is off here): a 404, documented
    c.call("GET", "/v1/directory/units/{unit_id}", path_parameters={"unit_id": UNIT}, query=org, expect=(404,))
    c.call("GET", "/v1/directory/roster-sizes", query=org | {"level": "school_unit"})
    c.call("GET", "/v1/directory/held", query=org | {"limit": 5000})
    c.call("POST", "/v1/directory/removals", body={"removed_at": "2026-08-15T06:30:00+02:00",
                                                   "source_ids": ["conform-gone"]})
    for level, unit in (("organiser", ORGANISER), ("school_unit", UNIT)):
        where = {"level": level, "unit_id": unit} | org
        c.call("GET", "/v1/results/assessments", query=where | period)
        c.call("GET", "/v1/results/forecasts", query=where | period)
        for figure in ("trend", "history", "gender-gap", "freshness", "coverage", "drill-down", "forecast-outcome",
                       "merit"):
            c.call("GET", f"/v1/figures/{figure}", query=where | period)
        for read in ("kinds", "below-pass-without-support", "open-investigations", "results-before-after"):
            c.call("GET", f"/v1/support/{read}", query=where)
        c.call("GET", "/v1/support/summary", query=where | period)
        c.call("GET", "/v1/support/plan-coverage", query=where | period)
    c.call("GET", "/v1/support/below-pass-without-support/students",
           query={"level": "school_unit", "unit_id": UNIT} | org)
    c.call("GET", "/v1/figures/history", query={"level": "organiser", "periods": 20} | org | period)
    for read in ("", "/activities", "/over-time"):
        c.call("GET", f"/v1/lika/compilation{read}", query=org)
    c.call("GET", "/v1/lika/school-units", query=org)
    c.call("GET", "/v1/alerts", query=org | {"limit": 5000})
    c.call("POST", "/v1/alerts/{alert_id}/acknowledge", path_parameters={"alert_id": str(uuid.uuid4())},
           body={"comment": UNICODE_TEXT}, expect=(404,))
    c.call("GET", "/v1/alert-thresholds/{organiser_id}", path_parameters=org)
    c.call("PUT", "/v1/alert-thresholds/{organiser_id}", path_parameters=org, body={})
    c.call("PUT", "/v1/alert-thresholds/{organiser_id}", path_parameters=org,
           body={"drop_points": 100, "below_forecast_points": 0, "min_students": 10})
    c.call("GET", "/v1/school-units/{school_unit_code}/students-at-risk", path_parameters={"school_unit_code": UNIT},
           query=period)
    c.call("POST", "/v1/admin/alerts/reevaluate", query=org)
    c.call("POST", "/v1/admin/alerts/freshness-sweep", query=org)
    c.call("GET", "/v1/admin/consistency")
    c.call("GET", "/v1/admin/unplaced", query=org)
    c.call("GET", "/v1/audit/reads", query=org | {"limit": 10_000})
    units = {"organiser_id": ORGANISER, "school_unit_code": UNIT}
    c.call("GET", "/v1/compliance/organisers/{organiser_id}/school-units", path_parameters=org, query=period)
    c.call("GET", "/v1/compliance/organisers/{organiser_id}/school-units/{school_unit_code}", path_parameters=units,
           query=period)
    c.call("GET", "/v1/compliance/organisers/{organiser_id}/school-units/{school_unit_code}/items",
           path_parameters=units, query=period)
    rounds = {"round": 1}
    c.call("GET", "/v1/compliance/organisers/{organiser_id}/rounds/{round}/school-units",
           path_parameters=org | rounds, query={"school_year": "2026/27"})
    c.call("GET", "/v1/compliance/organisers/{organiser_id}/rounds/{round}/school-units/{school_unit_code}",
           path_parameters=units | rounds, query={"school_year": "2026/27"})
    c.call("GET", "/v1/compliance/organisers/{organiser_id}/rounds/{round}/school-units/{school_unit_code}/items",
           path_parameters=units | rounds, query={"school_year": "2026/27"})
    for path in ("/healthz",):
        c.call("GET", path)


@pytest.mark.parametrize("running", ["assessment", "forecast", "lika", "reporting"], indirect=True)
def test_every_operation_answers_a_valid_request_as_documented(running, token_issuer):
    name, service = running
    client = Client(name, service, token_issuer)
    flow = {"assessment": assessment_flow, "forecast": forecast_flow, "lika": lika_flow, "reporting": reporting_flow}
    try:
        flow[name](client)
    except AssertionError as stopped:  # a step a later one needs went wrong: what went wrong first, too
        raise AssertionError(f"{stopped}\n" + "\n\n".join(client.wrong)) from None
    client.call("GET", "/healthz")
    client.done()
    assert_outbox_events_validate(service)


# --- the events the services wrote, against the exported JSON Schemas ---------------------------------------

def _validators() -> tuple[jsonschema.Draft202012Validator, dict[str, jsonschema.Draft202012Validator]]:
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    envelope = jsonschema.Draft202012Validator(json.loads((CONTRACTS / "schemas" / "envelope.json").read_text()),
                                               format_checker=checker)
    data = {path.stem: jsonschema.Draft202012Validator(json.loads(path.read_text()), format_checker=checker)
            for path in (CONTRACTS / "schemas").glob("se.styrkedja.*.json")}
    return envelope, data


def _outbox_payloads(database_url: str) -> list[bytes]:
    async def read() -> list[bytes]:
        connection = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            return [bytes(r["payload"]) for r in await connection.fetch("SELECT payload FROM outbox ORDER BY id")]
        finally:
            await connection.close()

    found: list[bytes] = []
    thread = threading.Thread(target=lambda: found.extend(asyncio.run(read())))
    thread.start()
    thread.join(60)
    return found


def assert_outbox_events_validate(service: RunningService) -> None:
    envelope, data = _validators()
    payloads = _outbox_payloads(service.database_url)
    assert payloads, "the requests wrote no events"
    wrong: list[str] = []
    types: set[str] = set()
    for raw in payloads:
        event = json.loads(raw)
        types.add(event.get("type"))
        problems = [f"envelope {'.'.join(map(str, e.absolute_path))}: {e.message}" for e in envelope.iter_errors(event)]
        validator = data.get(event.get("type"))
        if validator is None:
            problems.append(f"no exported schema for {event.get('type')}")
        else:
            problems += [f"data.{'.'.join(map(str, e.absolute_path))}: {e.message}"
                         for e in validator.iter_errors(event["data"])]
            if event.get("dataschema") != validator.schema["$id"]:
                problems.append(f"dataschema {event.get('dataschema')} is not {validator.schema['$id']}")
        if problems:
            wrong.append(f"{event.get('type')} {event.get('id')}: {problems[:5]}")
    assert not wrong, f"{len(wrong)} of {len(payloads)} events do not validate:\n" + "\n".join(wrong[:20])
    print(f"{len(payloads)} events of {sorted(types)} validate against the exported JSON Schemas")


# --- paging ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("running", ["reporting"], indirect=True)
def test_following_next_after_visits_every_held_entity_once_while_writes_go_on(running, token_issuer):
    """`GET /v1/directory/held` pages by `after` = the previous page's `next_after` (keyset order): an entity
    held throughout is visited exactly once, whatever is written between two pages (new entities before and
    after the cursor, changed names), every page conforms to the document, and the last says `next_after: null`."""
    name, service = running
    c = Client(name, service, token_issuer)
    held = [_unit("group", f"conform-page-{i:03d}", UNIT, f"Sida {i}", school_unit_code=UNIT, year=8)
            for i in range(60)]
    c.call("POST", "/v1/directory/changes", body={"items": _directory(0) + held})
    seen: list[str] = []
    after: str | None = None
    for page_number in range(1000):
        query: dict[str, Any] = {"organiser_id": ORGANISER, "limit": 7} | ({"after": after} if after else {})
        page = c.call("GET", "/v1/directory/held", query=query)
        assert page is not None, c.wrong
        body = page.json()
        assert len(body["items"]) == len(body["source_ids"]) <= 7
        seen += [item["entity_key"] for item in body["items"]]
        # between two pages a writer adds entities on both sides of the cursor and renames one already seen
        writes = [_unit("group", f"conform-page-{page_number:03d}-new", UNIT, "Ny", school_unit_code=UNIT, year=8),
                  _unit("group", f"conform-page-000-{page_number:03d}", UNIT, "Ny", school_unit_code=UNIT, year=8),
                  _unit("group", "conform-page-000", UNIT, f"Omdöpt {page_number}", school_unit_code=UNIT, year=8)]
        c.call("POST", "/v1/directory/changes", body={"items": writes})
        after = body["next_after"]
        if after is None:
            break
    else:
        pytest.fail("the pages never ended")
    c.done_sending()
    assert len(seen) == len(set(seen)), [k for k in seen if seen.count(k) > 1][:5]
    mine = {k for k in seen if any(k.endswith(f"conform-page-{i:03d}") for i in range(60))}
    assert len(mine) == 60, sorted(mine)[:5]


# --- what the document admits, the service takes ----------------------------------------------------------------

def test_a_rule_across_fields_is_in_the_document_too():
    """A body a generated client may build from the document is one the service takes: a removal naming
    nothing is refused at the door (`name at least one source id or entity`), so the schema says so."""
    from test_docs_examples import request_schema

    validator = jsonschema.Draft202012Validator(request_schema("reporting", "POST", "/v1/directory/removals"))
    removed_at = "2026-08-15T06:30:00+02:00"
    assert not validator.is_valid({"removed_at": removed_at})
    assert not validator.is_valid({"removed_at": removed_at, "source_ids": [], "entities": []})
    assert validator.is_valid({"removed_at": removed_at, "source_ids": ["conform-gone"]})
    assert validator.is_valid({"removed_at": removed_at, "entities": [{"organiser_id": ORGANISER,
                                                                       "entity_key": "group:29990011:7A"}]})
