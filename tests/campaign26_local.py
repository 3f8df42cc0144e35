"""Round 26's local fuzz campaign: NOT collected in CI (no `test_` file prefix); run it explicitly, e.g.

    STYRKEDJA_TEST_BROKERS=embedded CAMPAIGN_EXAMPLES=100 python -m pytest tests/campaign26_local.py -q \
        -p no:randomly -s -o timeout=0 -k campaign

Each function starts its own in-process service(s) (`inprocess.start_service`; reporting fed events straight, as its
consumer would) and writes what it saw under $CAMPAIGN_OUT (default /tmp/styrkedja-campaign26): `test_campaign`
(schemathesis, both modes, tokens of every role, path ids taken from earlier answers; findings.txt), the stateful and
boundary probes (`test_probes*`, `test_reporting_edges`, `test_year_edges`, `test_alert_lifecycle`,
`test_documented_maxima`, `test_positive_refusals`, `test_cross_organiser_ids`, `test_nothing_lost`), concurrent
writes (`test_races`), content negotiation (`test_accept_formats`), paths and methods (`test_slashes_and_methods`).
It asserts little: it is read. What it found is in tests/test_hostile_round26c.py."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from hypothesis.errors import Unsatisfiable
from inprocess import ORGANISER, start_service
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from test_api_conformance import (
    CHECKS,
    Client,
    assessment_flow,
    forecast_flow,
    lika_flow,
    reporting_flow,
)
from test_hostile_round13 import feed, organiser_events

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

N = int(os.environ.get("CAMPAIGN_EXAMPLES", "60"))
SEED = int(os.environ.get("CAMPAIGN_SEED", str(random.randrange(2**32))))
UNIT = "29990011"
OUT_DIR = os.environ.get("CAMPAIGN_OUT", "/tmp/styrkedja-campaign26")
os.makedirs(OUT_DIR, exist_ok=True)
OUT = f"{OUT_DIR}/findings.txt"


def tokens(issuer: Any) -> dict[str, str]:
    mint = issuer.mint
    common = {"organisers": [ORGANISER], "ttl_seconds": 4 * 3600}
    return {
        "broad": mint(roles=["platform", "principal", "organiser_admin", "ops"], school_units=[UNIT, "12345678"],
                      subject="fuzz", client_id="platform-fuzz", **common),
        "platform": mint(roles=["platform"], client_id="platform-x", **common),
        "principal": mint(roles=["principal"], school_units=[UNIT], subject="rektor", **common),
        "ict": mint(roles=["ict_coordinator"], school_units=[UNIT], subject="ict", **common),
        "teacher": mint(roles=["teacher"], school_units=[UNIT], groups=[f"{UNIT}/conform-7A"], subject="t", **common),
        "area": mint(roles=["area_manager"], areas=["conform-area"], subject="am", **common),
        "admin": mint(roles=["organiser_admin"], subject="adm", **common),
        "politician": mint(roles=["politician"], subject="pol", **common),
        "ops": mint(roles=["ops"], subject="ops", **common),
        "public": mint(roles=["public"], subject="pub", **common),
        "empty": mint(roles=[], subject="nobody", **common),
    }


class Finder:
    def __init__(self, name: str) -> None:
        self.name = name
        self.found: dict[str, str] = {}
        self.sent = 0

    def add(self, key: str, text: str) -> None:
        if key not in self.found:
            self.found[key] = text
            with open(OUT, "a") as f:
                f.write(f"=== {self.name} {key}\n{text[:3000]}\n\n")


def harvest(pool: dict[str, set[str]], node: Any) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            if isinstance(v, str) and (k.endswith("_id") or k in ("version", "school_unit_code", "alert_id")):
                pool.setdefault(k, set()).add(v)
            harvest(pool, v)
    elif isinstance(node, list):
        for v in node:
            harvest(pool, v)


def problem_check(response: Any) -> str | None:
    status = response.status_code
    if status in (400, 422):
        try:
            body = json.loads(response.content)
        except ValueError:
            return "problem not JSON"
        errors = body.get("errors") or []
        if not errors or not all(e.get("field") and e.get("rule") for e in errors):
            return f"{status} problem without field/rule: {response.text[:400]}"
    return None


def run_operation(finder: Finder, operation: Any, url: str, headers: dict[str, str], pool: dict[str, set[str]],
                  mode: GenerationMode, n: int, rng: random.Random) -> None:
    @seed(SEED)
    @settings(max_examples=n, deadline=None, database=None, suppress_health_check=list(HealthCheck),
              report_multiple_bugs=False)
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        for name in list(case.path_parameters or {}):
            if name in pool and pool[name] and rng.random() < 0.7:
                case.path_parameters[name] = rng.choice(sorted(pool[name]))
        if case.query and "organiser_id" in case.query and rng.random() < 0.5:
            case.query["organiser_id"] = ORGANISER
        finder.sent += 1
        try:
            response = case.call(base_url=url, headers=headers, timeout=60)
        except BaseException as error:  # noqa: BLE001
            finder.add(f"{operation.label} call {type(error).__name__}", f"{case!r}\n{error}")
            return
        try:
            case.validate_response(response, checks=[not_a_server_error, *CHECKS])
        except BaseException as error:  # noqa: BLE001
            first = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
            key = f"{operation.label} {response.status_code} {re.sub(r'[0-9a-f-]{36}', 'ID', first)}"
            finder.add(key, f"{case.as_curl_command(headers)[:1500]}\n{str(error)[:2500]}")
        problem = problem_check(response)
        if problem:
            finder.add(f"{operation.label} {response.status_code} noname", f"{case!r}\n{problem}")
        if response.status_code < 300 and response.headers.get("content-type", [""])[0].startswith("application/json"):
            with contextlib.suppress(ValueError):
                harvest(pool, json.loads(response.content))

    try:
        run()
    except Unsatisfiable:
        pass
    except BaseException as error:  # noqa: BLE001
        import traceback
        finder.add(f"{operation.label} hypothesis {type(error).__name__}",
                   "".join(traceback.format_exception(error))[-6000:])


FLOWS = {"assessment": assessment_flow, "forecast": forecast_flow, "lika": lika_flow, "reporting": reporting_flow}


@pytest.mark.parametrize("name", ["assessment", "forecast", "lika", "reporting"])
def test_campaign(name: str, infrastructure: Any, token_issuer: Any) -> None:
    service = start_service(name, infrastructure, token_issuer)
    try:
        if name == "reporting":
            asyncio.run(feed(service.database_url, organiser_events((ORGANISER,), UNIT, "f")))
        finder = Finder(name)
        client = Client(name, service, token_issuer)
        try:
            FLOWS[name](client)
        except AssertionError as stopped:
            finder.add("flow stopped", str(stopped))
        for w in client.wrong:
            finder.add(f"flow {w[:100]}", w)
        pool: dict[str, set[str]] = {}
        # ids from the flows: read back what's there
        with httpx.Client(base_url=service.url, headers=client.headers, timeout=60) as http:
            for path, query in {"lika": [("/v1/self-assessments", {"organiser_id": ORGANISER, "school_unit_code": UNIT})],
                                "reporting": [("/v1/alerts", {"organiser_id": ORGANISER})]}.get(name, []):
                got = http.get(path, params=query)
                if got.status_code == 200:
                    harvest(pool, got.json())
        schema = client.schema
        rng = random.Random(SEED)
        operations = [r.ok() for r in schema.get_all_operations()]
        operations = [op for op in operations if op.path not in ("/readyz", "/metrics")]
        roles = tokens(token_issuer)
        for role, token in roles.items():
            headers = {"Authorization": f"Bearer {token}"}
            for operation in operations:
                n = N if role == "broad" else max(5, N // 6)
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                    run_operation(finder, operation, service.url, headers, pool, mode, n, rng)
            print(f"{name} {role}: {finder.sent} sent, {len(finder.found)} found", flush=True)
        print(f"{name}: seed {SEED}, {finder.sent} sent; found {len(finder.found)}:\n" + "\n".join(finder.found))
    finally:
        service.stop()


# ---------------------------------------------------------------- targeted probes
ANY = tuple(range(200, 500))
ODD_TIMES = ["2026-08-14T06:30:00+14:00", "2026-08-14T06:30:00-12:00", "2026-08-14T06:30:00+23:59",
             "2026-08-14T06:30:00-23:59", "2026-08-14t06:30:00z", "2026-08-14T06:30:00+00:00:30",
             "2026-08-14T23:59:60Z", "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00",
             "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2026-08-14T06:30:00.123456789Z", "2026-08-14T06:30Z",
             "2026-08-14 06:30:00Z", "2026-08-14T06:30:00", "2026-W33-5T06:30:00Z", "20260814T063000Z",
             "2026-08-14T06:30:00+0200", "2026-08-14T06:30:00+02", "1970-01-01T00:00:00Z", "2026-02-29T00:00:00Z"]
ODD_DATES = ["0001-01-01", "9999-12-31", "2024-02-29", "2026-02-29", "+002026-01-01", "2026-1-1", "20261001",
             "2026-W40-3", "2026-274", "1900-01-01", "2026-10-01T00:00:00Z", "0000-01-01"]
ODD_UUIDS = [lambda u: u.upper(), lambda u: "{" + u + "}", lambda u: "urn:uuid:" + u, lambda u: u.replace("-", ""),
             lambda u: "00000000-0000-0000-0000-000000000000", lambda u: "ffffffff-ffff-ffff-ffff-ffffffffffff",
             lambda u: u[:-1] + "G", lambda u: " " + u, lambda u: u + "\n",
             lambda u: "{" + u.upper() + "}"]


def probe_log(c: Client, what: str, response: httpx.Response | None) -> None:
    text = "None (see wrong)" if response is None else f"{response.status_code} {response.text[:300]}"
    with open(f"{OUT_DIR}/probes.txt", "a") as f:
        f.write(f"{c.name} {what}: {text}\n")


def probe_reporting(c: Client) -> None:
    org = {"organiser_id": ORGANISER}
    for v in ["NaN", "sNaN", "Infinity", "-Infinity", "1e400", "1E+2", "100.0000000000000000001", "-0", " 10", "10 ",
              "0x10", "", "１０", "1_0", "1e-400", "99.999999999999999999999999", "5", "-1", "101", 1e308, -0.0,
              100.00000000000001, 5e-324, "٥"]:
        for key in ("drop_points", "below_forecast_points"):
            r = c.call("PUT", "/v1/alert-thresholds/{organiser_id}", path_parameters=org, body={key: v}, expect=ANY)
            probe_log(c, f"thresholds {key}={v!r}", r)
            r = c.call("GET", "/v1/alert-thresholds/{organiser_id}", path_parameters=org, expect=ANY)
            probe_log(c, "  read back", r)
    for t in ODD_TIMES:
        unit = {"type": "se.styrkedja.organisation.unit_upserted.v1",
                "data": {"unit_type": "area", "unit_id": "probe-area", "organiser_id": ORGANISER, "name": "P",
                         "parent_id": ORGANISER, "updated_at": t}}
        r = c.call("POST", "/v1/directory/changes", body={"items": [unit]}, expect=ANY)
        probe_log(c, f"changes updated_at={t}", r)
        r = c.call("POST", "/v1/directory/removals", body={"removed_at": t, "source_ids": ["probe-x"]}, expect=ANY)
        probe_log(c, f"removals removed_at={t}", r)
    # ETag round trip
    where = {"level": "organiser", "unit_id": ORGANISER, "organiser_id": ORGANISER, "school_year": "2026/27",
             "term": "HT"}
    first = c.call("GET", "/v1/results/assessments", query=where, expect=ANY)
    probe_log(c, "results first", first)
    if first is not None and "etag" in first.headers:
        for inm in [first.headers["etag"], "*", "W/" + first.headers["etag"], '"x", ' + first.headers["etag"]]:
            r = c.call("GET", "/v1/results/assessments", query=where, headers={"If-None-Match": inm}, expect=ANY)
            probe_log(c, f"results If-None-Match {inm}", r)
        r = c.call("GET", "/v1/results/assessments", query=where, headers={"If-Match": '"nope"'}, expect=ANY)
        probe_log(c, "results If-Match nope", r)
    for sy in ["2026/28", "0000/01", "9999/00", "2026/27"]:
        for term in ["HT", "ht", "Ht", "VT", "vt"]:
            r = c.call("GET", "/v1/results/assessments", query=where | {"school_year": sy, "term": term}, expect=ANY)
            probe_log(c, f"results {sy} {term}", r)
    for level in ["ORGANISER", "Organiser", "school_unit", "student", "group", "area", "nation"]:
        r = c.call("GET", "/v1/results/assessments", query=where | {"level": level}, expect=ANY)
        probe_log(c, f"results level {level}", r)


def probe_forecast(c: Client) -> None:
    org = {"organiser_id": ORGANISER}
    for tz in ["Mars/Olympus", "UTC", "../../etc/passwd", "Europe", "EST5EDT", "posixrules", "localtime", "Factory",
               "europe/stockholm", "Europe/Stockholm ", "/etc/localtime", "Etc/GMT+14", "Etc/GMT-14", "GMT0", "right/UTC",
               "zone.tab", "tzdata.zi", "leap-seconds.list", "__init__", "Europe/__init__.py", "iso3166.tab", ".", "..",
               "Europe/", "UTC\x00", "+01:00", "America/Argentina/ComodRivadavia", "US/Pacific-New", "a" * 64,
               "Europe//Stockholm", "Europe/./Stockholm", "Europe\\Stockholm"]:
        r = c.call("PUT", "/v1/calendars/{organiser_id}", path_parameters=org, body={"timezone": tz}, expect=ANY)
        probe_log(c, f"calendar tz={tz!r}", r)
        r = c.call("GET", "/v1/calendars/{organiser_id}", path_parameters=org, expect=ANY)
        probe_log(c, "  read back", r)
    for windows in [[{"term": "HT", "iso_week": 53, "deadline_weekday": 5}, {"term": "VT", "iso_week": 13, "deadline_weekday": 5}],
                    [{"term": "HT", "iso_week": 43, "deadline_weekday": 7}, {"term": "HT", "iso_week": 44, "deadline_weekday": 1}],
                    [{"term": "VT", "iso_week": 1, "deadline_weekday": 1}, {"term": "HT", "iso_week": 52, "deadline_weekday": 7}],
                    [{"term": "ht", "iso_week": 43, "deadline_weekday": 5}, {"term": "vt", "iso_week": 13, "deadline_weekday": 5}]]:
        for rounds in [[], [{"round": 1, "term": "HT", "iso_week": 53}], [{"round": 1, "term": "HT", "iso_week": 40}] * 2,
                       [{"round": 4, "term": "VT", "iso_week": 1}, {"round": 1, "term": "HT", "iso_week": 52}]]:
            body = {"forecast_windows": windows, "round_deadlines": rounds, "grace_days": 60}
            r = c.call("PUT", "/v1/calendars/{organiser_id}", path_parameters=org, body=body, expect=ANY)
            probe_log(c, f"calendar {json.dumps(body)}", r)
    r = c.call("GET", "/v1/calendars/{organiser_id}", path_parameters=org, expect=ANY)
    probe_log(c, "  read back", r)
    for rev in [5, 3, 5, 2146435071, 1]:
        r = c.call("PUT", "/v1/calendars/{organiser_id}", path_parameters=org, body={"revision": rev}, expect=ANY)
        probe_log(c, f"calendar revision {rev}", r)
    base = {"organiser_id": ORGANISER, "school_unit_code": UNIT, "group_id": "p-7A", "student_id": "p-s1",
            "teacher_id": "p-t1", "gender": "male", "year": 7, "subject_code": "GRGRMAT01", "school_year": "2098/99",
            "term": "HT", "value": "ACCEPTABLE"}
    fid = str(uuid.uuid4())
    for variant in ODD_UUIDS:
        r = c.call("POST", "/v1/forecasts", body=base | {"forecast_id": variant(fid), "student_id": "p-u"}, expect=ANY)
        probe_log(c, f"forecast id {variant(fid)!r}", r)
    first = c.call("POST", "/v1/forecasts", body=base, expect=ANY)
    probe_log(c, "forecast first", first)
    if first is not None and first.status_code < 300:
        ident = first.json()["forecast_id"]
        for body in [base | {"value": "NOT_REACHED"}, base | {"forecast_id": ident.upper(), "value": "NOT_REACHED"},
                     base | {"forecast_id": ident, "revision": 7}, base | {"forecast_id": ident, "revision": 3},
                     base | {"forecast_id": ident, "revision": 7, "value": "MORE_THAN_ACCEPTABLE"},
                     base | {"forecast_id": ident, "student_id": "other"}, base | {"forecast_id": ident, "value": "acceptable"}]:
            r = c.call("POST", "/v1/forecasts", body=body, expect=ANY)
            probe_log(c, f"forecast again {json.dumps(body)}", r)
        for wid in [ident.upper(), "{" + ident + "}", "urn:uuid:" + ident, ident]:
            for body in [None, {"revision": 3}, {"revision": 2146435071}, {"revision": 9}]:
                r = c.call("POST", "/v1/forecasts/{forecast_id}/withdraw", path_parameters={"forecast_id": wid},
                           body=body, expect=ANY)
                probe_log(c, f"withdraw {wid} {body}", r)
        r = c.call("POST", "/v1/forecasts", body=base, expect=ANY)
        probe_log(c, "forecast after withdraw", r)
    for sy in ["2098/00", "2099/00", "2098/98", "1999/00", "0000/01", "9998/99", "9999/00"]:
        r = c.call("POST", "/v1/forecasts", body=base | {"school_year": sy, "student_id": "p-sy"}, expect=ANY)
        probe_log(c, f"forecast school_year {sy}", r)


def probe_assessment(c: Client) -> None:
    base = {"organiser_id": ORGANISER, "school_unit_code": UNIT, "group_id": "p-7A", "student_id": "p-s1",
            "teacher_id": "p-t1", "gender": "female", "year": 7, "subject_code": "GRGRMAT01", "kind": "assessment",
            "scale": "AF", "value": "C", "school_year": "2026/27", "term": "HT", "round": 1, "assessed_on": "2026-10-01"}
    for d in ODD_DATES:
        r = c.call("POST", "/v1/assessments", body=base | {"assessed_on": d, "student_id": "p-d"}, expect=ANY)
        probe_log(c, f"assessed_on {d}", r)
    for key, values in {"scale": ["af", "Af", "BETYG", "AF "], "value": ["c", "F", "f", "-", "A+", "E-", "X" * 32,
                                                                           "X" * 33, "Z"],
                        "kind": ["ASSESSMENT", "term_grade", "TERM_GRADE", "final_grade", "grade"],
                        "gender": ["FEMALE", "other", "x", "unknown", "non_binary"], "year": [0, 9, 10, -1, 1.0, 7.5],
                        "round": [0, 4, 5, 1.0], "term": ["ht", "vt", "VT", "ST"],
                        "school_year": ["2026/28", "2026/26", "0000/01", "9999/00", "2099/00", "1969/70"],
                        "subject_code": ["grgrmat01", "GRGRMAT01 ", "GRGRSVA01", "GRSAMAT01", "GRGRENG01", "AAA"]}.items():
        for v in values:
            r = c.call("POST", "/v1/assessments", body=base | {key: v, "student_id": "p-k"}, expect=ANY)
            probe_log(c, f"{key}={v!r}", r)
    aid = str(uuid.uuid4())
    for variant in ODD_UUIDS:
        r = c.call("POST", "/v1/assessments", body=base | {"assessment_id": variant(aid), "student_id": "p-u"},
                   expect=ANY)
        probe_log(c, f"assessment id {variant(aid)!r}", r)
    for path, body in [("/v1/assessments", base | {"assessment_id": aid, "value": "A"}),
                       ("/v1/assessments", base | {"assessment_id": aid.upper(), "value": "B"}),
                       ("/v1/assessments", base | {"assessment_id": aid, "revision": 2146435071}),
                       ("/v1/assessments", base | {"assessment_id": aid, "revision": 2146435070}),
                       ("/v1/assessments", base | {"assessment_id": aid, "student_id": "p-other", "revision": 2146435071}),
                       ("/v1/assessments", base | {"assessment_id": aid})]:
        r = c.call("POST", path, body=body, expect=ANY)
        probe_log(c, f"same id {json.dumps(body)}", r)
    for wid in [aid.upper(), "{" + aid + "}", aid]:
        for body in [None, {"revision": 2}, {"revision": 2146435071}, {"reason": "x" * 500}, {"reason": "x" * 501}]:
            r = c.call("POST", "/v1/assessments/{assessment_id}/retract", path_parameters={"assessment_id": wid},
                       body=body, expect=ANY)
            probe_log(c, f"retract {wid} {body}", r)
    r = c.call("POST", "/v1/assessments", body=base | {"assessment_id": aid}, expect=ANY)
    probe_log(c, "after retract", r)
    # a batch with the same id twice, different bodies
    bid = str(uuid.uuid4())
    r = c.call("POST", "/v1/assessments/batch", body={"items": [base | {"assessment_id": bid, "value": "A"},
                                                               base | {"assessment_id": bid, "value": "B"}]}, expect=ANY)
    probe_log(c, "batch dup id", r)
    r = c.call("POST", "/v1/assessments/batch", body={"items": [base | {"assessment_id": bid.upper(), "value": "A"},
                                                               base | {"assessment_id": bid, "value": "A"}]}, expect=ANY)
    probe_log(c, "batch dup id case", r)
    r = c.call("POST", "/v1/assessments/batch", body={"items": [base | {"student_id": "p-b1"},
                                                               base | {"student_id": "p-b1"}]}, expect=ANY)
    probe_log(c, "batch dup key no id", r)
    ib = {"organiser_id": ORGANISER, "school_unit_code": UNIT, "group_id": "p-7A", "student_id": "p-s1",
          "kind": "extra_adjustment", "status": "decided", "start_date": "2026-09-01"}
    for extra in [{"evaluation_date": "2026-08-01"}, {"evaluation_date": "2026-09-01", "evaluation_outcome": "improved"},
                  {"decided_on": "9999-12-31"}, {"decided_on": "0001-01-01"}, {"start_date": "0001-01-01"},
                  {"start_date": "9999-12-31"}, {"status": "DECIDED"}, {"kind": "EXTRA_ADJUSTMENT"},
                  {"investigation_id": str(uuid.uuid4()).upper()}, {"decided_by_role": "TEACHER"},
                  {"evaluation_outcome": "improved"}, {"status": "ended"}, {"status": "ended", "evaluation_date": None}]:
        r = c.call("POST", "/v1/support-interventions", body=ib | extra, expect=ANY)
        probe_log(c, f"intervention {extra}", r)
    pb = {"organiser_id": ORGANISER, "school_unit_code": UNIT, "group_id": "p-7A", "subject_code": "GRGRMAT01",
          "school_year": "2026/27", "term": "HT", "title": "T", "published_on": "2026-09-01"}
    for link in ["javascript:alert(1)", "http://", "https://a.se/" + "a" * 2030, "https://a.se/" + "a" * 2040,
                 "https://ä.se/å", "mailto:a@b.se", "data:text/html,x", "//a.se", "a.se", "http://[::1]:99999/",
                 "https://a.se/\x00", "https://a.se/ x", "file:///etc/passwd", "HTTPS://A.SE"]:
        r = c.call("POST", "/v1/plans", body=pb | {"link": link, "group_id": "p-l"}, expect=ANY)
        probe_log(c, f"plan link {link[:40]!r}", r)
    for cc in [["grgrmat01"], ["GRGRMAT01", "GRGRMAT01"], ["XXX"], []]:
        r = c.call("POST", "/v1/plans", body=pb | {"criteria_codes": cc, "group_id": "p-c"}, expect=ANY)
        probe_log(c, f"plan criteria {cc}", r)


def probe_lika(c: Client) -> None:
    index = c.call("GET", "/v1/catalogue", expect=ANY)
    version = index.json()["latest_version"] if index is not None else "2025.1"
    cat = c.call("GET", "/v1/catalogue/{version}", path_parameters={"version": version},
                 query={"school_form": "grundskola"}, expect=ANY)
    indicators = [(i["id"], a["id"]) for a in cat.json()["areas"] for i in a["indicators"]] if cat else []
    for v in [version.upper(), version + " ", "1", "0", "9999.9", "..", "%2e%2e", version + ".0"]:
        r = c.call("GET", "/v1/catalogue/{version}", path_parameters={"version": v}, expect=ANY)
        probe_log(c, f"catalogue {v!r}", r)
    for sf in ["GRUNDSKOLA", "gymnasieskola", "anpassad_grundskola", "förskola", "fritidshem"]:
        r = c.call("GET", "/v1/catalogue/{version}", path_parameters={"version": version}, query={"school_form": sf},
                   expect=ANY)
        probe_log(c, f"catalogue school_form {sf}", r)
    draft = {"organiser_id": ORGANISER, "school_unit_code": UNIT, "school_form": "grundskola",
             "respondent_role": "rektor", "catalogue_version": version}
    for d in ODD_DATES:
        r = c.call("POST", "/v1/self-assessments", body=draft | {"assessed_on": d}, expect=ANY)
        probe_log(c, f"draft assessed_on {d}", r)
    sid = str(uuid.uuid4())
    for variant in ODD_UUIDS:
        r = c.call("POST", "/v1/self-assessments", body=draft | {"self_assessment_id": variant(sid)}, expect=ANY)
        probe_log(c, f"draft id {variant(sid)!r}", r)
    for body in [draft | {"self_assessment_id": sid, "respondent_role": "teacher_team"},
                 draft | {"self_assessment_id": sid, "school_unit_code": "12345678"},
                 draft | {"self_assessment_id": sid, "catalogue_version": "1999.1"},
                 draft | {"catalogue_version": "1999.1"}, draft | {"school_form": "gymnasieskola"},
                 draft | {"respondent_role": "REKTOR"}]:
        r = c.call("POST", "/v1/self-assessments", body=body, expect=ANY)
        probe_log(c, f"draft again {json.dumps(body)}", r)
    created = c.call("POST", "/v1/self-assessments", body=draft, expect=ANY)
    if created is None or created.status_code >= 300:
        return
    sid = created.json()["self_assessment_id"]
    p = {"self_assessment_id": sid}
    i0 = indicators[0][0] if indicators else "x"
    for ratings in [[{"indicator_id": i0, "rating": "planned"}], [{"indicator_id": i, "rating": "STARTED"} for i, _ in indicators][:5], [{"indicator_id": i0, "rating": "PLANNED"},
                                                                 {"indicator_id": i0, "rating": "ACHIEVED"}],
                    [{"indicator_id": i0.upper(), "rating": "PLANNED"}], [{"indicator_id": "nope", "rating": "PLANNED"}],
                    [{"indicator_id": i0, "rating": "NOT_RELEVANT"}], [{"indicator_id": i0, "rating": "X" * 32}],
                    [{"indicator_id": i0, "rating": "PLANNED", "comment": "x" * 2000}],
                    [{"indicator_id": i0 + " ", "rating": "PLANNED"}],
                    [{"indicator_id": i, "rating": "STARTED"} for i, _ in indicators]]:
        r = c.call("PATCH", "/v1/self-assessments/{self_assessment_id}/ratings", path_parameters=p,
                   body={"ratings": ratings}, expect=ANY)
        probe_log(c, f"ratings {json.dumps(ratings)[:200]}", r)
    for ind in [i0.upper(), "nope", i0, i0, "%00", "a" * 65]:
        r = c.call("DELETE", "/v1/self-assessments/{self_assessment_id}/ratings/{indicator_id}",
                   path_parameters=p | {"indicator_id": ind}, expect=ANY)
        probe_log(c, f"delete rating {ind!r}", r)
    for variant in ODD_UUIDS:
        r = c.call("GET", "/v1/self-assessments/{self_assessment_id}", path_parameters={"self_assessment_id": variant(sid)},
                   expect=ANY)
        probe_log(c, f"get {variant(sid)!r}", r)
    for st in ["HT2026", "ht 2026/27", "VT 0000/01", "HT 9998/99", "HT 1899/00", "HT 2026/28", "HT  2026/27",
               "HT 2026/27 ", "VT 2199/00", "VT 9999/00", "HT 2026/27\n", "HT 2026/2", "HT 2026/٢٧", "VT 2026/27"]:
        r = c.call("POST", "/v1/self-assessments/{self_assessment_id}/publish", path_parameters=p,
                   body={"start_term": st}, expect=ANY)
        probe_log(c, f"publish start_term {st!r}", r)
        if r is not None and r.status_code == 200:
            break
    for body in [None, {"start_term": "HT 2026/27"}, {"start_term": "VT 2030/31"}]:
        for act in ["publish", "keep-private"]:
            r = c.call("POST", f"/v1/self-assessments/{{self_assessment_id}}/{act}", path_parameters=p, body=body,
                       expect=ANY)
            probe_log(c, f"{act} again {body}", r)
    r = c.call("PATCH", "/v1/self-assessments/{self_assessment_id}/ratings", path_parameters=p,
               body={"ratings": [{"indicator_id": i0, "rating": "PLANNED"}]}, expect=ANY)
    probe_log(c, "ratings after publish", r)
    r = c.call("DELETE", "/v1/self-assessments/{self_assessment_id}/ratings/{indicator_id}",
               path_parameters=p | {"indicator_id": i0}, expect=ANY)
    probe_log(c, "delete after publish", r)
    plan = c.call("GET", "/v1/self-assessments/{self_assessment_id}/action-plan", path_parameters=p, expect=ANY)
    probe_log(c, "plan", plan)
    acts: list[str] = []
    if plan is not None and plan.status_code == 200:
        pool: dict[str, set[str]] = {}
        harvest(pool, plan.json())
        acts = sorted(pool.get("activity_id", set()))
    for q in [{"status": "DONE"}, {"status": "done"}, {"priority": 0}, {"priority": 3}, {"owner": "x" * 100},
              {"owner": "x" * 101}, {"tag": "x" * 41}, {"owner": ""}, {"tag": ""}]:
        r = c.call("GET", "/v1/self-assessments/{self_assessment_id}/action-plan", path_parameters=p, query=q,
                   expect=ANY)
        probe_log(c, f"plan query {q}", r)
        r = c.call("GET", "/v1/self-assessments/{self_assessment_id}/action-plan/export.xlsx", path_parameters=p,
                   query=q, expect=ANY)
        probe_log(c, f"plan xlsx query {q}", r)
    for act in acts[:2] + ["nope", acts[0].upper() if acts else "X"]:
        for edit in [{"status": "DONE"}, {"status": "done"}, {"due_date": "0001-01-01"}, {"due_date": "9999-12-31"},
                     {"tags": ["a", "a", "A"]}, {"tags": ["x" * 41]}, {"tags": [""]}, {"tags": ["\x00"]},
                     {"owner": "=cmd|' /C calc'!A0"}, {"note": "=1+1"}, {"tags": ["=HYPERLINK(\"x\")"]},
                     {"priority": None, "status": None}, {}, {"owner": "x" * 100}, {"tags": ["t"] * 100},
                     {"tags": [f"t{i}" for i in range(100)]}]:
            r = c.call("PATCH", "/v1/self-assessments/{self_assessment_id}/action-plan/items/{activity_id}",
                       path_parameters=p | {"activity_id": act}, body=edit, expect=ANY)
            probe_log(c, f"edit {act} {json.dumps(edit)[:100]}", r)
    for path in ["/v1/self-assessments/{self_assessment_id}/export.xlsx",
                 "/v1/self-assessments/{self_assessment_id}/action-plan/export.xlsx"]:
        r = c.call("GET", path, path_parameters=p, expect=ANY)
        probe_log(c, f"{path} after edits", r)
    # a second one, other catalogue version and form, published, then compared both ways
    other = c.call("POST", "/v1/self-assessments", body=draft | {"catalogue_version": "2026.1",
                                                                  "respondent_role": "teacher_team"}, expect=ANY)
    probe_log(c, "other draft", other)
    if other is not None and other.status_code < 300:
        oid = other.json()["self_assessment_id"]
        cat1 = c.call("GET", "/v1/catalogue/{version}", path_parameters={"version": "2026.1"},
                      query={"school_form": "grundskola"}, expect=ANY)
        ind1 = [i["id"] for a in cat1.json()["areas"] for i in a["indicators"]] if cat1 else []
        r = c.call("PATCH", "/v1/self-assessments/{self_assessment_id}/ratings", path_parameters={"self_assessment_id": oid},
                   body={"ratings": [{"indicator_id": i, "rating": "PLANNED"} for i in ind1]}, expect=ANY)
        probe_log(c, "other ratings NOT_RELEVANT", r)
        r = c.call("POST", "/v1/self-assessments/{self_assessment_id}/keep-private",
                   path_parameters={"self_assessment_id": oid}, expect=ANY)
        probe_log(c, "other keep-private", r)
        r = c.call("GET", "/v1/self-assessments/{self_assessment_id}/action-plan",
                   path_parameters={"self_assessment_id": oid}, expect=ANY)
        probe_log(c, "other plan", r)
        opool: dict[str, set[str]] = {}
        if r is not None and r.status_code == 200:
            harvest(opool, r.json())
        oacts = sorted(opool.get("activity_id", set()))
        probe_log(c, f"other acts {oacts[:5]}", None)
        op = {"self_assessment_id": oid}
        for act in oacts[:2] + ([oacts[0].upper(), oacts[0] + " ", oacts[0] + "/x"] if oacts else []):
            for edit in [{"status": "done"}, {"status": "dropped"}, {"status": "planned"}, {"priority": 1},
                         {"priority": 3}, {"due_date": "1900-01-01"}, {"due_date": "2199-12-31"},
                         {"tags": ["a", "A"]}, {"tags": ["x" * 40]}, {"tags": ["ä" * 40]}, {"tags": ["👩‍🏫" * 10]},
                         {"owner": "=cmd|' /C calc'!A0"}, {"note": "=1+1"}, {"tags": ["=HYPERLINK(\"x\")"]},
                         {"owner": "x" * 100}, {"owner": " "}, {"owner": None}, {"tags": None}, {"tags": []},
                         {"note": "x" * 4000}, {"note": "\u202e"}, {"tags": [f"t{i}" for i in range(20)]},
                         {"status": "in_progress", "priority": 2, "owner": "Åsa", "due_date": "2026-12-24",
                          "tags": ["IKT"], "note": "n"}]:
                r = c.call("PATCH", "/v1/self-assessments/{self_assessment_id}/action-plan/items/{activity_id}",
                           path_parameters=op | {"activity_id": act}, body=edit, expect=ANY)
                probe_log(c, f"oedit {act} {json.dumps(edit)[:100]}", r)
        for q in [{"status": "done"}, {"priority": 3}, {"owner": "Åsa"}, {"tag": "IKT"}, {"tag": "ikt"},
                  {"owner": "x" * 100}, {"tag": "a"}, {"status": "planned", "priority": 1, "owner": "Åsa", "tag": "IKT"}]:
            for path in ["/v1/self-assessments/{self_assessment_id}/action-plan",
                         "/v1/self-assessments/{self_assessment_id}/action-plan/export.xlsx"]:
                r = c.call("GET", path, path_parameters=op, query=q, expect=ANY)
                probe_log(c, f"oplan {path[-12:]} {q}", r)
        for a, b in [(sid, oid), (oid, sid)]:
            r = c.call("GET", "/v1/self-assessments/compare", query={"first": a, "second": b}, expect=ANY)
            probe_log(c, f"compare {a[:4]} {b[:4]}", r)
        for path in ["/v1/self-assessments/{self_assessment_id}/export.xlsx",
                     "/v1/self-assessments/{self_assessment_id}/action-plan/export.xlsx"]:
            r = c.call("GET", path, path_parameters={"self_assessment_id": oid}, expect=ANY)
            probe_log(c, f"other {path}", r)
    ratings_all = [{"indicator_id": i, "area": a, "rating": "ACHIEVED"} for i, a in indicators]
    pub = {"organiser_id": ORGANISER, "school_unit_code": UNIT, "school_form": "grundskola",
           "respondent_role": "management_team", "catalogue_version": version}
    for ratings in [ratings_all, ratings_all[:1], ratings_all + ratings_all[:1],
                    [dict(x, area="X") for x in ratings_all], [dict(x, rating="achieved") for x in ratings_all],
                    [dict(x, rating="NOT_RELEVANT") for x in ratings_all], [dict(x, rating="NOT_PLANNED") for x in ratings_all],
                    [dict(x, comment="=1+1") for x in ratings_all]]:
        r = c.call("POST", "/v1/self-assessments/published", body=pub | {"ratings": ratings}, expect=ANY)
        probe_log(c, f"published {json.dumps(ratings[:1])} n={len(ratings)}", r)
        if r is not None and r.status_code < 300:
            pid = r.json()["self_assessment_id"]
            for body in [pub | {"ratings": ratings, "self_assessment_id": pid},
                         pub | {"ratings": ratings[:-1], "self_assessment_id": pid},
                         pub | {"ratings": ratings, "self_assessment_id": pid, "school_unit_code": "12345678"}]:
                r2 = c.call("POST", "/v1/self-assessments/published", body=body, expect=ANY)
                probe_log(c, "published again", r2)
            for path in ["/v1/self-assessments/{self_assessment_id}", "/v1/self-assessments/{self_assessment_id}/action-plan",
                         "/v1/self-assessments/{self_assessment_id}/export.xlsx",
                         "/v1/self-assessments/{self_assessment_id}/action-plan/export.xlsx"]:
                r2 = c.call("GET", path, path_parameters={"self_assessment_id": pid}, expect=ANY)
                probe_log(c, f"published read {path}", r2)
            r2 = c.call("GET", "/v1/self-assessments/compare", query={"first": pid, "second": sid}, expect=ANY)
            probe_log(c, "compare published/tool", r2)
            for act in ["publish", "keep-private"]:
                r2 = c.call("POST", f"/v1/self-assessments/{{self_assessment_id}}/{act}",
                            path_parameters={"self_assessment_id": pid}, expect=ANY)
                probe_log(c, f"published {act}", r2)
            r2 = c.call("PATCH", "/v1/self-assessments/{self_assessment_id}/ratings", path_parameters={"self_assessment_id": pid},
                        body={"ratings": [{"indicator_id": indicators[0][0], "rating": "PLANNED"}]}, expect=ANY)
            probe_log(c, "published patch ratings", r2)
            r2 = c.call("DELETE", "/v1/self-assessments/{self_assessment_id}/ratings/{indicator_id}",
                        path_parameters={"self_assessment_id": pid, "indicator_id": indicators[0][0]}, expect=ANY)
            probe_log(c, "published delete rating", r2)
    r = c.call("GET", "/v1/self-assessments/compare", query={"first": sid, "second": sid}, expect=ANY)
    probe_log(c, "compare same", r)
    r = c.call("GET", "/v1/self-assessments/compare", query={"first": sid.upper(), "second": str(uuid.uuid4())},
               expect=ANY)
    probe_log(c, "compare unknown", r)
    for st in [["draft"], ["published", "private"], ["DRAFT"], ["draft", "draft"]]:
        r = c.call("GET", "/v1/self-assessments", query={"organiser_id": ORGANISER, "school_unit_code": UNIT,
                                                         "status": st}, expect=ANY)
        probe_log(c, f"list status {st}", r)


PROBES = {"assessment": probe_assessment, "forecast": probe_forecast, "lika": probe_lika, "reporting": probe_reporting}


@pytest.mark.parametrize("name", ["assessment", "forecast", "lika", "reporting"])
def test_probes(name: str, infrastructure: Any, token_issuer: Any) -> None:
    service = start_service(name, infrastructure, token_issuer)
    try:
        if name == "reporting":
            asyncio.run(feed(service.database_url, organiser_events((ORGANISER,), UNIT, "f")))
        client = Client(name, service, token_issuer)
        try:
            PROBES[name](client)
        except BaseException as error:  # noqa: BLE001
            client.wrong.append(f"probe stopped: {type(error).__name__}: {str(error)[:3000]}")
        with open(f"{OUT_DIR}/probes_wrong.txt", "a") as f:
            for w in client.wrong:
                f.write(f"=== {name}: {w}\n")
        print(f"{name}: {len(client.wrong)} wrong")
    finally:
        service.stop()


SWEEP_VALUES = {"organiser_id": ORGANISER, "school_year": "2026/27", "subject_code": "GRGRMAT01",
                "school_unit_code": UNIT, "round": "1", "year": "7"}
LEVEL_UNITS = {"organiser": ORGANISER, "area": "area-f", "school_unit": UNIT, "group": f"{UNIT}/7A", "student": "s-f-1",
               "nation": "SE"}
OPTIONALS = {"gender": ["female", "male", "unknown"], "split": ["gender", "year"],
             "compare": ["previous_round", "previous_term", "same_term_last_year"], "periods": ["1", "20"],
             "figure": ["pass", "forecast-outcome", "merit"], "kind": ["assessment", "term_grade"],
             "list": ["group", "group_subject", "teacher", "teacher_group_subject", "unassigned"],
             "only_missing": ["true", "false"],
             "status": ["missing", "late", "on_time", "open", "acknowledged", "resolved", "planned", "done"],
             "min_subjects": ["1", "3"], "investigation_weeks": ["1", "52"], "today": ["2026-10-01", "2027-06-30"], "on": ["2026-10-01"],
             "limit": ["1", "5000"], "compare_to": ["2025/26"], "since": ["2026-01-01T00:00:00Z"]}


def test_reporting_sweep(infrastructure: Any, token_issuer: Any) -> None:
    service = start_service("reporting", infrastructure, token_issuer)
    Path(f"{OUT_DIR}/sweep.txt").write_text("")
    try:
        asyncio.run(feed(service.database_url, organiser_events((ORGANISER,), UNIT, "f")))
        client = Client("reporting", service, token_issuer)
        reporting_flow(client)
        roles = tokens(token_issuer)
        extra = {"area": token_issuer.mint(roles=["area_manager"], organisers=[ORGANISER], areas=["area-f"]),
                 "teacher7A": token_issuer.mint(roles=["teacher"], organisers=[ORGANISER], school_units=[UNIT],
                                                groups=[f"{UNIT}/7A"])}
        roles |= extra
        rng = random.Random(SEED)
        sent = 0
        for op in (r.ok() for r in client.schema.get_all_operations()):
            if op.method.upper() != "GET" or op.path in ("/readyz", "/metrics", "/healthz"):
                continue
            params = {p["name"]: p for p in op.definition.raw.get("parameters", [])}
            levels = list(LEVEL_UNITS) if "level" in params else [None]
            formats = ["json", "csv", "xlsx"] if "format" in params else [None]
            for role, token in roles.items():
                for level in levels:
                    for fmt in formats:
                        for _ in range(2):
                            path_p, query = {}, {}
                            for name, p in params.items():
                                value = SWEEP_VALUES.get(name)
                                if name == "level":
                                    value = level
                                elif name == "unit_id":
                                    value = LEVEL_UNITS.get(level or "organiser")
                                elif name == "format":
                                    value = fmt
                                elif name == "term":
                                    value = None if "round" in query or (not p.get("required") and rng.random() < 0.3) \
                                        else "HT"
                                elif name in OPTIONALS and rng.random() < 0.5:
                                    value = rng.choice(OPTIONALS[name])
                                elif not p.get("required") and rng.random() < 0.3:
                                    value = None
                                if value is None:
                                    continue
                                if name == "round" and p["in"] == "query" and (rng.random() < 0.7 or "term" in query):
                                    continue
                                (path_p if p["in"] == "path" else query)[name] = value
                            sent += 1
                            r = client.call("GET", op.path, path_parameters=path_p, query=query, expect=ANY,
                                            headers={"Authorization": f"Bearer {token}"})
                            with open(f"{OUT_DIR}/sweep.txt", "a") as f:
                                f.write(f"{role} {op.path} {query} {path_p}: "
                                        f"{'X' if r is None else r.status_code} "
                                        f"{'' if r is None else r.text[:200] if r.status_code >= 400 else ''}\n")
        with open(f"{OUT_DIR}/sweep_wrong.txt", "w") as f:
            for w in client.wrong:
                f.write(f"=== {w}\n")
        print(f"sweep: {sent} sent, {len(client.wrong)} wrong")
    finally:
        service.stop()


def probe_idempotency(c: Client) -> None:
    ib = {"organiser_id": ORGANISER, "school_unit_code": UNIT, "group_id": "p-7A", "student_id": "p-i1",
          "kind": "extra_adjustment", "status": "proposed", "start_date": "2026-09-01"}
    key = str(uuid.uuid4())
    k = {"Idempotency-Key": key}
    steps = [("POST", "/v1/support-interventions", ib, k), ("POST", "/v1/support-interventions", ib, k),
             ("POST", "/v1/support-interventions", ib | {"status": "decided"}, k),
             ("POST", "/v1/support-interventions", ib | {"student_id": "p-i2"}, k),
             ("POST", "/v1/plans", {"organiser_id": ORGANISER, "school_unit_code": UNIT, "group_id": "p-7A",
                                    "subject_code": "GRGRMAT01", "school_year": "2026/27", "term": "HT", "title": "T",
                                    "published_on": "2026-09-01"}, k),
             ("POST", "/v1/support-interventions/batch", {"items": [ib]}, k),
             ("POST", "/v1/support-interventions/batch", {"items": [ib]}, k),
             ("POST", "/v1/support-interventions/batch", {"items": [ib, ib | {"student_id": "p-i3"}]}, k),
             ("POST", "/v1/support-interventions", ib | {"intervention_id": str(uuid.uuid4())}, {"Idempotency-Key": "x" * 200}),
             ("POST", "/v1/support-interventions", ib, {"Idempotency-Key": "x" * 201}),
             ("POST", "/v1/support-interventions", ib, {"Idempotency-Key": ""}),
             ("POST", "/v1/support-interventions", ib, {"Idempotency-Key": "a b"}),
             ("POST", "/v1/support-interventions", ib, {"Idempotency-Key": "å"}),
             ]
    for method, path, body, headers in steps:
        r = c.call(method, path, body=body, headers=headers, expect=ANY)
        probe_log(c, f"idem {path} {headers.get('Idempotency-Key', '')[:40]!r} {json.dumps(body)[:80]}", r)
        if r is not None and r.status_code < 300:
            probe_log(c, f"   replayed={r.headers.get('idempotent-replayed')}", r)
    # the record a key made, retracted, then the key again
    first = c.call("POST", "/v1/support-interventions", body=ib | {"student_id": "p-i9"},
                   headers={"Idempotency-Key": "k9"}, expect=ANY)
    if first is not None and first.status_code < 300:
        iid = first.json()["intervention_id"]
        for method, path, body, headers in [
                ("POST", "/v1/support-interventions/{intervention_id}/retract", None, {}),
                ("POST", "/v1/support-interventions", ib | {"student_id": "p-i9"}, {"Idempotency-Key": "k9"}),
                ("POST", "/v1/support-interventions", ib | {"student_id": "p-i9", "intervention_id": iid}, {}),
                ("POST", "/v1/support-interventions", ib | {"student_id": "p-i9", "intervention_id": iid, "revision": 5},
                 {"Idempotency-Key": "k9"}),
                ("POST", "/v1/support-interventions", ib | {"student_id": "p-i9", "intervention_id": iid.upper()},
                 {"Idempotency-Key": "k9"})]:
            r = c.call(method, path, path_parameters={"intervention_id": iid}, body=body, headers=headers, expect=ANY)
            probe_log(c, f"idem9 {path} {json.dumps(body)[-80:] if body else ''} {headers}", r)


def probe_directory_idempotency(c: Client) -> None:
    unit = {"type": "se.styrkedja.organisation.unit_upserted.v1",
            "data": {"unit_type": "area", "unit_id": "idem-area", "organiser_id": ORGANISER, "name": "P",
                     "parent_id": ORGANISER, "updated_at": "2026-08-14T06:30:00Z"}}
    k = {"Idempotency-Key": "dir-1"}
    for path, body, headers in [
            ("/v1/directory/changes", {"items": [unit]}, k), ("/v1/directory/changes", {"items": [unit]}, k),
            ("/v1/directory/changes", {"items": [unit | {"source_id": "s1"}]}, k),
            ("/v1/directory/removals", {"removed_at": "2026-08-15T00:00:00Z", "source_ids": ["s1"]}, k),
            ("/v1/directory/changes", {"items": [unit]}, {"Idempotency-Key": "x" * 201}),
            ("/v1/directory/removals", {"removed_at": "2026-08-15T00:00:00Z", "entities": [{"organiser_id": ORGANISER, "entity_key": "unit:area::idem-area"}]}, {}),
            ("/v1/directory/removals", {"removed_at": "2026-08-15T00:00:00Z", "entities": [{"organiser_id": ORGANISER, "entity_key": "nope"}]}, {}),
            ("/v1/directory/removals", {"removed_at": "2026-08-15T00:00:00Z"}, {}),
            ("/v1/directory/removals", {"removed_at": "2026-08-15T00:00:00Z", "source_ids": ["s1", "s1"]}, {}),
            ("/v1/directory/changes", {"items": [unit, unit]}, {}),
            ("/v1/directory/changes", {"items": [unit | {"data": unit["data"] | {"unit_type": "school_unit"}}]}, {}),
            ("/v1/directory/changes", {"items": [unit | {"data": unit["data"] | {"parent_id": "idem-area"}}]}, {}),
            ("/v1/directory/changes", {"items": [unit | {"data": {}}]}, {}),
            ("/v1/directory/changes", {"items": [{"type": "se.styrkedja.organisation.membership_upserted.v1",
                                                  "data": {"x": 1}}]}, {}),
    ]:
        r = c.call("POST", path, body=body, headers=headers, expect=ANY)
        probe_log(c, f"dir {path} {headers} {json.dumps(body)[:100]}", r)
        if r is not None:
            probe_log(c, f"   replayed={r.headers.get('idempotent-replayed')}", r)
    held = c.call("GET", "/v1/directory/held", query={"organiser_id": ORGANISER}, expect=ANY)
    probe_log(c, "held", held)
    if held is not None and held.status_code == 200:
        pool: dict[str, set[str]] = {}
        harvest(pool, held.json())
        probe_log(c, f"held keys {sorted(pool)}", None)
        for ek in list(pool.get("entity_key", []))[:3]:
            r = c.call("POST", "/v1/directory/removals", body={"removed_at": "2026-08-15T00:00:00Z",
                                                               "entities": [{"organiser_id": ORGANISER, "entity_key": ek}]}, expect=ANY)
            probe_log(c, f"remove {ek}", r)
            r = c.call("POST", "/v1/directory/removals", body={"removed_at": "2026-08-14T00:00:00Z",
                                                               "entities": [{"organiser_id": ORGANISER, "entity_key": ek}]}, expect=ANY)
            probe_log(c, f"remove earlier {ek}", r)


PROBES2 = {"assessment": probe_idempotency, "reporting": probe_directory_idempotency}


@pytest.mark.parametrize("name", ["assessment", "reporting"])
def test_probes2(name: str, infrastructure: Any, token_issuer: Any) -> None:
    service = start_service(name, infrastructure, token_issuer)
    try:
        client = Client(name, service, token_issuer)
        try:
            PROBES2[name](client)
        except BaseException as error:  # noqa: BLE001
            client.wrong.append(f"probe stopped: {type(error).__name__}: {str(error)[:3000]}")
        with open(f"{OUT_DIR}/probes_wrong.txt", "a") as f:
            for w in client.wrong:
                f.write(f"=== {name}: {w}\n")
        print(f"{name}: {len(client.wrong)} wrong")
    finally:
        service.stop()


def test_directory_cycles(infrastructure: Any, token_issuer: Any) -> None:
    from test_hostile_round13 import event
    service = start_service("reporting", infrastructure, token_issuer)
    up, at = "se.styrkedja.organisation.unit_upserted.v1", "2026-09-01T08:00:00+00:00"

    def unit(kind: str, uid: str, parent: str | None, **extra: Any) -> Any:
        return event(up, unit_type=kind, unit_id=uid, organiser_id=ORGANISER, parent_id=parent, name=f"U {uid}",
                     school_unit_code=extra.pop("code", None), year=extra.pop("year", None),
                     roster_size=extra.pop("roster", None), updated_at=at)
    try:
        asyncio.run(feed(service.database_url, organiser_events((ORGANISER,), UNIT, "f")))
        asyncio.run(feed(service.database_url, [
            unit("area", "loop-a", "loop-b"), unit("area", "loop-b", "loop-a"), unit("area", "self-a", "self-a"),
            unit("school_unit", "su-loop", "loop-a", code="29990022"),
            unit("group", "7L", "su-loop", code="29990022", year=7, roster=5),
            unit("area", "area-f", "area-f"),  # the fed area made its own parent
        ]))
        client = Client("reporting", service, token_issuer)
        org = {"organiser_id": ORGANISER}
        calls = [("/v1/directory/organisers/{organiser_id}/tree", org, {}),
                 ("/v1/directory/units/{unit_id}", {"unit_id": "loop-a"}, org),
                 ("/v1/directory/units/{unit_id}", {"unit_id": "self-a"}, org),
                 ("/v1/directory/units/{unit_id}", {"unit_id": "area-f"}, org),
                 ("/v1/directory/roster-sizes", {}, org | {"level": "area"}),
                 ("/v1/directory/roster-sizes", {}, org | {"level": "organiser"}),
                 ("/v1/directory/held", {}, org), ("/v1/admin/unplaced", {}, org), ("/v1/admin/consistency", {}, {})]
        for level, uid in [("area", "loop-a"), ("area", "self-a"), ("area", "area-f"), ("organiser", ORGANISER),
                           ("school_unit", "29990022"), ("school_unit", UNIT)]:
            q = org | {"level": level, "unit_id": uid, "school_year": "2026/27", "term": "HT"}
            calls += [("/v1/results/assessments", {}, q), ("/v1/figures/coverage", {}, q),
                      ("/v1/figures/drill-down", {}, q), ("/v1/support/summary", {}, q)]
        token = token_issuer.mint(roles=["area_manager"], organisers=[ORGANISER], areas=["loop-a"])
        for path, pp, q in calls:
            for headers in ({}, {"Authorization": f"Bearer {token}"}):
                r = client.call("GET", path, path_parameters=pp, query=q, expect=ANY, headers=headers)
                probe_log(client, f"cycle {path} {pp} {q} {bool(headers)}", r)
        with open(f"{OUT_DIR}/probes_wrong.txt", "a") as f:
            for w in client.wrong:
                f.write(f"=== cycles: {w}\n")
        print(f"cycles: {len(client.wrong)} wrong")
    finally:
        service.stop()


def test_repro(infrastructure: Any, token_issuer: Any) -> None:
    service = start_service("reporting", infrastructure, token_issuer)
    try:
        asyncio.run(feed(service.database_url, organiser_events((ORGANISER,), UNIT, "f")))
        headers = {"Authorization": "Bearer " + tokens(token_issuer)["broad"]}
        for q in ["split=gender&split=gender&organiser_id=2999&level=group&gender=female",
                  "split=gender&organiser_id=2999&level=group&gender=female",
                  "split=gender&split=gender&organiser_id=2999&level=group",
                  "split=gender&split=year&organiser_id=2999&level=group",
                  "split=year&split=year&organiser_id=2999&level=organiser&unit_id=2999",
                  "split=gender&organiser_id=2999&level=organiser&unit_id=2999&gender=male",
                  "split=gender&split=gender&organiser_id=2999&level=school_unit&unit_id=29990011",
                  "split=gender&split=gender&organiser_id=2999&level=group&format=csv",
                  ]:
            for path in ["/v1/results/forecasts", "/v1/results/assessments"]:
                r = httpx.get(f"{service.url}{path}?{q}", headers=headers, timeout=60)
                print(path, q, r.status_code, r.text[:200])
    finally:
        service.stop()


def test_reporting_edges(infrastructure: Any, token_issuer: Any) -> None:
    service = start_service("reporting", infrastructure, token_issuer)
    try:
        asyncio.run(feed(service.database_url, organiser_events((ORGANISER,), UNIT, "f")))
        client = Client("reporting", service, token_issuer)
        org = {"organiser_id": ORGANISER}
        base = org | {"level": "organiser", "unit_id": ORGANISER}
        calls: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        for sy in ["1900/01", "1901/02", "2198/99", "2199/00", "9998/99", "2026/27"]:
            for term in ["HT", "VT", None]:
                t = {"term": term} if term else {"round": "1"}
                for compare in ["previous_round", "previous_term", "same_term_last_year", None]:
                    c = {"compare": compare} if compare else {}
                    calls.append(("/v1/figures/trend", {}, base | {"school_year": sy} | t | c))
                calls.append(("/v1/figures/history", {}, base | {"school_year": sy, "periods": "20"} | t))
                calls.append(("/v1/figures/history", {}, base | {"school_year": sy, "periods": "1"} | t))
                for fig in ["gender-gap", "freshness", "coverage", "drill-down", "forecast-outcome", "merit"]:
                    calls.append((f"/v1/figures/{fig}", {}, base | {"school_year": sy} | t))
            calls.append(("/v1/lika/compilation/over-time", {}, org | {"school_year": sy, "compare_to": "1900/01"}))
            calls.append(("/v1/lika/compilation/over-time", {}, org | {"school_year": sy, "compare_to": sy}))
            calls.append(("/v1/support/summary", {}, base | {"school_year": sy, "term": "VT"}))
            calls.append(("/v1/support/plan-coverage", {}, base | {"school_year": sy, "term": "VT"}))
            calls.append(("/v1/compliance/organisers/{organiser_id}/school-units", org, {"school_year": sy, "term": "VT"}))
            calls.append(("/v1/compliance/organisers/{organiser_id}/rounds/{round}/school-units", org | {"round": 4},
                          {"school_year": sy}))
            calls.append(("/v1/school-units/{school_unit_code}/students-at-risk", {"school_unit_code": UNIT},
                          {"school_year": sy, "term": "VT"}))
        for d in ["1900-01-01", "2199-12-31", "2026-02-28", "2024-02-29"]:
            calls.append(("/v1/figures/freshness", {}, base | {"school_year": "2026/27", "term": "HT", "today": d}))
            calls.append(("/v1/figures/coverage", {}, base | {"school_year": "2026/27", "term": "HT", "on": d}))
            calls.append(("/v1/directory/roster-sizes", {}, org | {"level": "school_unit", "on": d}))
        for t in ["1900-01-01T00:00:00Z", "2199-12-31T23:59:59Z", "1900-01-01T00:00:00+14:00", "2199-12-31T23:59:59-12:00"]:
            calls.append(("/v1/audit/reads", {}, org | {"since": t}))
            calls.append(("/v1/audit/reads", {}, org | {"until": t}))
            calls.append(("/v1/audit/reads", {}, org | {"since": t, "until": "1900-01-01T00:00:00Z"}))
        for inv in ["1", "520", "10000", "2147483647"]:
            calls.append(("/v1/support/open-investigations", {}, base | {"investigation_weeks": inv}))
            calls.append(("/v1/support/summary", {}, base | {"investigation_weeks": inv}))
        for after in ["", "x", "unit:area::zzz", "\u00ff", "a" * 200]:
            calls.append(("/v1/directory/held", {}, org | {"after": after, "limit": "1"}))
        for path, pp, q in calls:
            r = client.call("GET", path, path_parameters=pp, query=q, expect=ANY)
            probe_log(client, f"edge {path} {pp} {q}", r)
        for t in ["1900-01-01T00:00:00Z", "2199-12-31T23:59:59Z", "1900-01-01T00:00:00+14:00",
                  "2199-12-31T23:59:59-12:00"]:
            r = client.call("POST", "/v1/admin/alerts/freshness-sweep", query=org | {"at": t}, expect=ANY)
            probe_log(client, f"sweep at {t}", r)
        r = client.call("POST", "/v1/admin/alerts/reevaluate", query=org, expect=ANY)
        probe_log(client, "reevaluate", r)
        alerts = client.call("GET", "/v1/alerts", query=org, expect=ANY)
        probe_log(client, "alerts", alerts)
        with open(f"{OUT_DIR}/probes_wrong.txt", "a") as f:
            for w in client.wrong:
                f.write(f"=== edges: {w}\n")
        print(f"edges: {len(client.wrong)} wrong")
    finally:
        service.stop()


def test_year_edges(infrastructure: Any, token_issuer: Any) -> None:
    out = []
    for name in ("forecast", "assessment", "reporting"):
        service = start_service(name, infrastructure, token_issuer)
        try:
            c = Client(name, service, token_issuer)
            if name == "forecast":
                for sy in ["1900/01", "1999/00", "2198/99", "2199/00", "2200/01", "5000/01", "9998/99"]:
                    for term in ["HT", "VT"]:
                        body = {"organiser_id": ORGANISER, "school_unit_code": UNIT, "group_id": "y-7A",
                                "student_id": f"y-{sy[:4]}-{term}", "teacher_id": "t", "gender": "male", "year": 7,
                                "subject_code": "GRGRMAT01", "school_year": sy, "term": term, "value": "ACCEPTABLE"}
                        r = c.call("POST", "/v1/forecasts", body=body, expect=ANY)
                        out.append(f"forecast {sy} {term}: {'X' if r is None else r.status_code} {'' if r is None else r.text[:200]}")
                        if r is not None and r.status_code < 300:
                            r2 = c.call("POST", "/v1/forecasts/{forecast_id}/withdraw",
                                        path_parameters={"forecast_id": r.json()["forecast_id"]}, expect=ANY)
                            out.append(f"   withdraw: {'X' if r2 is None else r2.status_code}")
                        r = c.call("POST", "/v1/forecasts/batch", body={"items": [body | {"student_id": "yb"}]}, expect=ANY)
                        out.append(f"forecast batch {sy} {term}: {'X' if r is None else r.status_code} {'' if r is None else r.text[:120]}")
            elif name == "assessment":
                for sy, on in [("2198/99", "2199-06-30"), ("2199/00", "2199-12-31"), ("1900/01", "1900-07-01"),
                               ("1899/00", "1900-01-01")]:
                    base = {"organiser_id": ORGANISER, "school_unit_code": UNIT, "group_id": "y-7A",
                            "student_id": f"y-{sy[:4]}", "teacher_id": "t", "gender": "female", "year": 7,
                            "subject_code": "GRGRMAT01", "kind": "assessment", "scale": "AF", "value": "C",
                            "school_year": sy, "term": "VT", "round": 4, "assessed_on": on}
                    r = c.call("POST", "/v1/assessments", body=base, expect=ANY)
                    out.append(f"assessment {sy} {on}: {'X' if r is None else r.status_code} {'' if r is None else r.text[:200]}")
                    pl = {"organiser_id": ORGANISER, "school_unit_code": UNIT, "group_id": "y-7A",
                          "subject_code": "GRGRMAT01", "school_year": sy, "term": "VT", "title": "T", "published_on": on}
                    r = c.call("POST", "/v1/plans", body=pl, expect=ANY)
                    out.append(f"plan {sy} {on}: {'X' if r is None else r.status_code} {'' if r is None else r.text[:200]}")
                    iv = {"organiser_id": ORGANISER, "school_unit_code": UNIT, "group_id": "y-7A", "student_id": "y",
                          "kind": "investigation", "status": "evaluated", "start_date": on, "evaluation_date": on,
                          "evaluation_outcome": "better", "decided_by_role": "principal", "decided_by": "p",
                          "decided_on": on}
                    r = c.call("POST", "/v1/support-interventions", body=iv, expect=ANY)
                    out.append(f"intervention {on}: {'X' if r is None else r.status_code} {'' if r is None else r.text[:200]}")
            else:
                for t in ["1900-01-01T00:00:00Z", "1900-01-01T00:00:00+14:00", "2199-12-31T23:59:59-12:00",
                          "1999-12-31T23:59:59Z"]:
                    unit = {"type": "se.styrkedja.organisation.unit_upserted.v1",
                            "data": {"unit_type": "area", "unit_id": "y-area", "organiser_id": ORGANISER, "name": "P",
                                     "parent_id": ORGANISER, "updated_at": t}}
                    r = c.call("POST", "/v1/directory/changes", body={"items": [unit]}, expect=ANY)
                    out.append(f"changes {t}: {'X' if r is None else r.status_code} {'' if r is None else r.text[:200]}")
                    r = c.call("POST", "/v1/directory/removals", body={"removed_at": t, "source_ids": ["y-area"]},
                               expect=ANY)
                    out.append(f"removals {t}: {'X' if r is None else r.status_code} {'' if r is None else r.text[:200]}")
            out += [f"WRONG {w[:1500]}" for w in c.wrong]
        finally:
            service.stop()
    Path(f"{OUT_DIR}/years.txt").write_text("\n".join(out))


async def _race(url: str, headers: dict[str, str], requests: list[tuple[str, str, Any, dict[str, str]]]) -> list[Any]:
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120,
                                 limits=httpx.Limits(max_connections=64)) as client:
        async def one(method: str, path: str, body: Any, extra: dict[str, str]) -> Any:
            try:
                r = await client.request(method, path, json=body, headers=extra)
                return r.status_code, r.text[:200]
            except Exception as error:  # noqa: BLE001
                return "EXC", repr(error)[:200]
        return await asyncio.gather(*(one(*r) for r in requests))


def test_races(infrastructure: Any, token_issuer: Any) -> None:
    out: list[str] = []
    for name in ("assessment", "forecast", "lika", "reporting"):
        service = start_service(name, infrastructure, token_issuer)
        headers = {"Authorization": "Bearer " + tokens(token_issuer)["broad"]}
        try:
            scenarios: dict[str, list[tuple[str, str, Any, dict[str, str]]]] = {}
            if name == "assessment":
                base = {"organiser_id": ORGANISER, "school_unit_code": UNIT, "group_id": "r-7A", "student_id": "r-s1",
                        "teacher_id": "r-t1", "gender": "female", "year": 7, "subject_code": "GRGRMAT01",
                        "kind": "assessment", "scale": "AF", "value": "C", "school_year": "2026/27", "term": "HT",
                        "round": 1, "assessed_on": "2026-10-01"}
                aid = str(uuid.uuid4())
                scenarios["same id, other bodies"] = [("POST", "/v1/assessments", base | {"assessment_id": aid,
                                                       "value": "ABCDE"[i % 5]}, {}) for i in range(16)]
                scenarios["same key, other ids"] = [("POST", "/v1/assessments", base | {"student_id": "r-s2",
                                                     "assessment_id": str(uuid.uuid4())}, {}) for i in range(16)]
                scenarios["same key, no id"] = [("POST", "/v1/assessments", base | {"student_id": "r-s3",
                                                 "value": "ABCDE"[i % 5]}, {}) for i in range(16)]
                scenarios["same id, same revision"] = [("POST", "/v1/assessments", base | {"assessment_id": aid,
                                                        "revision": 7, "value": "ABCDE"[i % 5]}, {}) for i in range(16)]
                scenarios["retract races"] = [("POST", f"/v1/assessments/{aid}/retract", None, {}) for _ in range(8)] + \
                    [("POST", "/v1/assessments", base | {"assessment_id": aid, "revision": 100 + i}, {}) for i in range(8)]
                ib = {"organiser_id": ORGANISER, "school_unit_code": UNIT, "group_id": "r-7A", "student_id": "r-i1",
                      "kind": "extra_adjustment", "status": "proposed", "start_date": "2026-09-01"}
                scenarios["idempotency key race"] = [("POST", "/v1/support-interventions", ib | {"description": str(i % 2)},
                                                      {"Idempotency-Key": "race-1"}) for i in range(16)]
                scenarios["batch key race"] = [("POST", "/v1/support-interventions/batch",
                                                {"items": [ib | {"student_id": f"r-b{i % 2}"}]},
                                                {"Idempotency-Key": "race-2"}) for i in range(16)]
                scenarios["batch overlap"] = [("POST", "/v1/assessments/batch",
                                               {"items": [base | {"student_id": f"r-o{j}", "value": "ABCDE"[i % 5]}
                                                          for j in range(i % 3, 30, 1 + i % 2)]}, {}) for i in range(12)]
            elif name == "forecast":
                base = {"organiser_id": ORGANISER, "school_unit_code": UNIT, "group_id": "r-7A", "student_id": "r-s1",
                        "teacher_id": "r-t1", "gender": "male", "year": 7, "subject_code": "GRGRMAT01",
                        "school_year": "2098/99", "term": "HT", "value": "ACCEPTABLE"}
                values = ["NOT_REACHED", "ACCEPTABLE", "MORE_THAN_ACCEPTABLE"]
                scenarios["same key"] = [("POST", "/v1/forecasts", base | {"value": values[i % 3]}, {}) for i in range(16)]
                scenarios["calendar"] = [("PUT", f"/v1/calendars/{ORGANISER}", {"grace_days": i, "revision": 1 + i % 2}, {})
                                         for i in range(16)]
                scenarios["calendar free"] = [("PUT", f"/v1/calendars/{ORGANISER}", {"grace_days": i}, {}) for i in range(16)]
                scenarios["withdraw race"] = [("POST", "/v1/forecasts", base | {"student_id": "r-w", "value": values[i % 3]}, {})
                                              for i in range(4)]
            elif name == "lika":
                sid = str(uuid.uuid4())
                draft = {"organiser_id": ORGANISER, "school_unit_code": UNIT, "school_form": "grundskola",
                         "respondent_role": "rektor", "catalogue_version": "2026.2"}
                scenarios["same draft id"] = [("POST", "/v1/self-assessments", draft | {"self_assessment_id": sid,
                                               "respondent_role": ["rektor", "teacher_team"][i % 2]}, {}) for i in range(16)]
                scenarios["ratings race"] = [("PATCH", f"/v1/self-assessments/{sid}/ratings",
                                              {"ratings": [{"indicator_id": "GR-LED-01", "rating": ["PLANNED", "STARTED"][i % 2]}]}, {})
                                             for i in range(12)] + \
                    [("DELETE", f"/v1/self-assessments/{sid}/ratings/GR-LED-01", None, {}) for _ in range(4)]
                pid = str(uuid.uuid4())
                scenarios["published same id"] = [("POST", "/v1/self-assessments/published", draft | {
                    "self_assessment_id": pid, "respondent_role": "management_team",
                    "ratings": [{"indicator_id": "GR-LED-01", "area": "ledning", "rating": ["ACHIEVED", "PLANNED"][i % 2]}]}, {})
                    for i in range(16)]
            else:
                unit = {"type": "se.styrkedja.organisation.unit_upserted.v1",
                        "data": {"unit_type": "area", "unit_id": "race-area", "organiser_id": ORGANISER, "name": "P",
                                 "parent_id": ORGANISER, "updated_at": "2026-08-14T06:30:00Z"}}
                scenarios["same entity"] = [("POST", "/v1/directory/changes", {"items": [unit | {"data": unit["data"] | {
                    "name": f"P{i % 3}"}}]}, {}) for i in range(16)]
                scenarios["changes and removals"] = [
                    ("POST", "/v1/directory/changes", {"items": [unit]}, {}) if i % 2 else
                    ("POST", "/v1/directory/removals", {"removed_at": "2026-08-15T00:00:00Z", "source_ids": ["race-area"]}, {})
                    for i in range(16)]
                scenarios["key race"] = [("POST", "/v1/directory/changes", {"items": [unit | {"data": unit["data"] | {
                    "name": f"K{i % 2}"}}]}, {"Idempotency-Key": "race-k"}) for i in range(16)]
                scenarios["thresholds"] = [("PUT", f"/v1/alert-thresholds/{ORGANISER}", {"min_students": 1 + i}, {})
                                           for i in range(16)]
                scenarios["sweeps"] = [("POST", f"/v1/admin/alerts/freshness-sweep?organiser_id={ORGANISER}", None, {})
                                       for _ in range(6)] + [("POST", f"/v1/admin/alerts/reevaluate?organiser_id={ORGANISER}",
                                                              None, {}) for _ in range(6)]
            if name == "lika":
                asyncio.run(_race(service.url, headers, scenarios["same draft id"][:1]))
            for label, requests in scenarios.items():
                for attempt in range(3):
                    got = asyncio.run(_race(service.url, headers, requests))
                    statuses = sorted({str(s) for s, _ in got})
                    out.append(f"{name} {label} #{attempt}: {statuses}")
                    for s, text in got:
                        if s == "EXC" or (isinstance(s, int) and s >= 500):
                            out.append(f"   !!! {s} {text}")
        finally:
            service.stop()
    Path(f"{OUT_DIR}/races.txt").write_text("\n".join(out))


def test_accept_formats(infrastructure: Any, token_issuer: Any) -> None:
    service = start_service("reporting", infrastructure, token_issuer)
    out = []
    try:
        asyncio.run(feed(service.database_url, organiser_events((ORGANISER,), UNIT, "f")))
        c = Client("reporting", service, token_issuer)
        q = {"organiser_id": ORGANISER, "level": "organiser", "unit_id": ORGANISER, "school_year": "2026/27",
             "term": "HT"}
        accepts = ["application/json", "text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                   "*/*", "text/*", "application/*", "text/csv;q=0.9, application/json;q=0.1", "application/problem+json",
                   "text/csv; charset=utf-8", "text/csv;q=0", "application/json;q=0, */*;q=0.1", "TEXT/CSV",
                   "text/csv;header=present", "application/json; charset=latin-1"]
        for path in ["/v1/results/assessments", "/v1/figures/coverage", "/v1/support/kinds",
                     "/v1/compliance/organisers/{organiser_id}/school-units", "/v1/lika/compilation"]:
            op = c.schema[path]["get"]
            names = {p["name"] for p in op.definition.raw.get("parameters", [])}
            query = {k: v for k, v in q.items() if k in names and not (path.startswith("/v1/compliance") and k == "organiser_id")}
            pp = {"organiser_id": ORGANISER} if "{organiser_id}" in path else {}
            for fmt in [None, "json", "csv", "xlsx", "JSON", "tsv"]:
                for accept in accepts:
                    qq = query | ({"format": fmt} if fmt else {})
                    r = c.call("GET", path, path_parameters=pp, query=qq, headers={"Accept": accept}, expect=ANY)
                    out.append(f"{path} fmt={fmt} accept={accept!r}: {'X' if r is None else r.status_code} "
                               f"{'' if r is None else r.headers.get('content-type')}")
        out += [f"WRONG {w[:1500]}" for w in c.wrong]
    finally:
        service.stop()
        Path(f"{OUT_DIR}/accept.txt").write_text("\n".join(out))


def test_alert_lifecycle(infrastructure: Any, token_issuer: Any) -> None:
    service = start_service("reporting", infrastructure, token_issuer)
    out = []
    try:
        asyncio.run(feed(service.database_url, organiser_events((ORGANISER,), UNIT, "f")))
        c = Client("reporting", service, token_issuer)
        org = {"organiser_id": ORGANISER}
        r = c.call("POST", "/v1/admin/alerts/freshness-sweep", query=org | {"at": "2199-12-31T23:59:59Z"}, expect=ANY)
        out.append(f"sweep {r.status_code if r else 'X'} {r.text[:100] if r else ''}")
        alerts = c.call("GET", "/v1/alerts", query=org, expect=ANY)
        pool: dict[str, set[str]] = {}
        if alerts is not None and alerts.status_code == 200:
            harvest(pool, alerts.json())
            out.append(f"alerts {alerts.text[:600]}")
        ids = sorted(pool.get("alert_id", set()))
        for aid in ids[:2]:
            for variant in [aid, aid.upper(), aid]:
                for body in [{"comment": "ok"}, {"comment": ""}, {"comment": "x" * 4000}, {"comment": "\u202e"},
                             {"comment": "19121212-1212"}, {"comment": "ok", "extra": 1}, {}]:
                    r = c.call("POST", "/v1/alerts/{alert_id}/acknowledge", path_parameters={"alert_id": variant},
                               body=body, expect=ANY)
                    out.append(f"ack {variant[:8]} {json.dumps(body)[:40]}: {r.status_code if r else 'X'} "
                               f"{r.text[:150] if r else ''}")
        for q in [{"status": "acknowledged"}, {"status": "open"}, {"status": "resolved"}, {"limit": "1"},
                  {"rule": "freshness_red"}, {"level": "group"}, {"level": "school_unit", "school_unit_code": UNIT}]:
            r = c.call("GET", "/v1/alerts", query=org | q, expect=ANY)
            out.append(f"alerts {q}: {r.status_code if r else 'X'} {r.text[:150] if r else ''}")
        r = c.call("POST", "/v1/admin/alerts/freshness-sweep", query=org | {"at": "2000-01-01T00:00:00Z"}, expect=ANY)
        out.append(f"sweep back {r.status_code if r else 'X'} {r.text[:100] if r else ''}")
        for aid in ids[:2]:
            r = c.call("POST", "/v1/alerts/{alert_id}/acknowledge", path_parameters={"alert_id": aid},
                       body={"comment": "after"}, expect=ANY)
            out.append(f"ack resolved: {r.status_code if r else 'X'} {r.text[:150] if r else ''}")
        r = c.call("POST", "/v1/admin/alerts/reevaluate", query=org, expect=ANY)
        out.append(f"reevaluate {r.status_code if r else 'X'} {r.text[:100] if r else ''}")
        r = c.call("GET", "/v1/alerts", query=org | {"status": "resolved"}, expect=ANY)
        out.append(f"alerts resolved: {r.status_code if r else 'X'} {r.text[:300] if r else ''}")
        out += [f"WRONG {w[:1500]}" for w in c.wrong]
    finally:
        service.stop()
        Path(f"{OUT_DIR}/alerts.txt").write_text("\n".join(out))


def test_documented_maxima(infrastructure: Any, token_issuer: Any) -> None:
    out = []
    for name in ("assessment", "forecast", "lika"):
        service = start_service(name, infrastructure, token_issuer)
        try:
            c = Client(name, service, token_issuer)
            if name == "assessment":
                base = {"organiser_id": ORGANISER, "school_unit_code": UNIT, "group_id": "m-7A", "student_id": "m-s1",
                        "teacher_id": "m-t1", "gender": "female", "year": 7, "subject_code": "GRGRMAT01",
                        "kind": "assessment", "scale": "AF", "value": "F", "school_year": "2026/27", "term": "HT",
                        "round": 1, "assessed_on": "2026-10-01"}
                tries = [("POST", "/v1/assessments", {}, base | {"unmet_criteria": ["å" * 500]}),
                         ("POST", "/v1/assessments", {}, base | {"student_id": "m-s2", "unmet_criteria": [f"{i} " + "å" * 490 for i in range(100)]}),
                         ("POST", "/v1/assessments", {}, base | {"student_id": "m-" + "a" * 62, "value": "C"}),
                         ("POST", "/v1/support-interventions", {}, {"organiser_id": ORGANISER, "school_unit_code": UNIT,
                          "group_id": "m-7A", "student_id": "m-s1", "kind": "extra_adjustment", "status": "proposed",
                          "start_date": "2026-09-01", "description": "å" * 4000}),
                         ("POST", "/v1/plans", {}, {"organiser_id": ORGANISER, "school_unit_code": UNIT, "group_id": "m-7A",
                          "subject_code": "GRGRMAT01", "school_year": "2026/27", "term": "HT", "title": "å" * 300,
                          "published_on": "2026-09-01", "criteria_codes": [f"C{i:03d}" for i in range(200)]})]
                r = c.call("POST", "/v1/assessments", body=base | {"student_id": "m-r", "value": "C"}, expect=ANY)
                if r is not None and r.status_code < 300:
                    aid = r.json()["assessment_id"]
                    tries.append(("POST", "/v1/assessments/{assessment_id}/retract", {"assessment_id": aid},
                                  {"reason": "å" * 500}))
            elif name == "forecast":
                tries = [("PUT", "/v1/calendars/{organiser_id}", {"organiser_id": ORGANISER},
                          {"timezone": "America/Argentina/ComodRivadavia"}),
                         ("PUT", "/v1/calendars/{organiser_id}", {"organiser_id": ORGANISER},
                          {"round_deadlines": [{"round": r, "term": "VT", "iso_week": 10 + r} for r in range(1, 5)],
                           "grace_days": 60})]
            else:
                draft = {"organiser_id": ORGANISER, "school_unit_code": UNIT, "school_form": "grundskola",
                         "respondent_role": "rektor", "catalogue_version": "2026.1"}
                r = c.call("POST", "/v1/self-assessments", body=draft, expect=ANY)
                sid = r.json()["self_assessment_id"]
                cat = c.call("GET", "/v1/catalogue/{version}", path_parameters={"version": "2026.1"},
                             query={"school_form": "grundskola"}, expect=ANY)
                ind = [i["id"] for a in cat.json()["areas"] for i in a["indicators"]]
                c.call("PATCH", "/v1/self-assessments/{self_assessment_id}/ratings",
                       path_parameters={"self_assessment_id": sid},
                       body={"ratings": [{"indicator_id": i, "rating": "PLANNED", "comment": "å" * 2000} for i in ind]},
                       expect=ANY)
                c.call("POST", "/v1/self-assessments/{self_assessment_id}/keep-private",
                       path_parameters={"self_assessment_id": sid}, expect=ANY)
                plan = c.call("GET", "/v1/self-assessments/{self_assessment_id}/action-plan",
                              path_parameters={"self_assessment_id": sid}, expect=ANY)
                pool: dict[str, set[str]] = {}
                harvest(pool, plan.json())
                act = sorted(pool["activity_id"])[0]
                pp = {"self_assessment_id": sid, "activity_id": act}
                path = "/v1/self-assessments/{self_assessment_id}/action-plan/items/{activity_id}"
                tries = [("PATCH", path, pp, {"tags": [f"t{i}" for i in range(100)]}),
                         ("PATCH", path, pp, {"tags": ["å" * 200]}), ("PATCH", path, pp, {"owner": "å" * 100}),
                         ("PATCH", path, pp, {"note": "å" * 4000}),
                         ("POST", "/v1/self-assessments/{self_assessment_id}/publish", {"self_assessment_id": str(uuid.uuid4())},
                          {"start_term": "HT 2026/27"})]
            for method, path, pp, body in tries:
                r = c.call(method, path, path_parameters=pp, body=body, expect=ANY)
                out.append(f"{name} {method} {path} {json.dumps(body)[:60]}: {'X' if r is None else r.status_code} "
                           f"{'' if r is None else r.text[:160]}")
            out += [f"WRONG {w[:800]}" for w in c.wrong]
        finally:
            service.stop()
    Path(f"{OUT_DIR}/maxima.txt").write_text("\n".join(out))


@pytest.mark.parametrize("name", ["assessment", "forecast", "lika", "reporting"])
def test_positive_refusals(name: str, infrastructure: Any, token_issuer: Any) -> None:
    """Positive (documented-valid) requests answered 400/422: which (field, rule) pairs."""
    service = start_service(name, infrastructure, token_issuer)
    seen: dict[tuple[str, str, str], str] = {}
    try:
        client = Client(name, service, token_issuer)
        with contextlib.suppress(AssertionError):
            FLOWS[name](client)
        headers = client.headers
        for op in (r.ok() for r in client.schema.get_all_operations()):
            if op.path in ("/readyz", "/metrics"):
                continue

            @seed(SEED)
            @settings(max_examples=N, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            @given(case=op.as_strategy(generation_mode=GenerationMode.POSITIVE))
            def run(case: schemathesis.Case) -> None:
                if case.query and "organiser_id" in case.query:
                    case.query["organiser_id"] = ORGANISER
                if isinstance(case.body, dict) and "organiser_id" in case.body:
                    case.body["organiser_id"] = ORGANISER
                r = case.call(base_url=service.url, headers=headers, timeout=60)
                if r.status_code in (400, 422):
                    try:
                        errors = json.loads(r.content).get("errors", [])
                    except ValueError:
                        errors = []
                    for e in errors:
                        field = re.sub(r"\.\d+", ".N", str(e.get("field")))
                        key = (case.operation.label, field, str(e.get("rule")))
                        if key not in seen:
                            seen[key] = f"{e.get('message', '')[:150]} :: {str(case.body)[:200] if case.body else case.query}"
            try:
                run()
            except BaseException as error:  # noqa: BLE001
                seen[(op.label, "hypothesis", type(error).__name__)] = str(error)[:300]
    finally:
        service.stop()
        with open(f"{OUT_DIR}/positive_{name}.txt", "w") as f:
            for (label, field, rule), example in sorted(seen.items()):
                f.write(f"{label} | {field} | {rule} | {example}\n")


def test_slashes_and_methods(infrastructure: Any, token_issuer: Any) -> None:
    out = []
    for name in ("assessment", "lika", "reporting"):
        service = start_service(name, infrastructure, token_issuer)
        headers = {"Authorization": "Bearer " + tokens(token_issuer)["broad"]}
        try:
            with httpx.Client(base_url=service.url, headers=headers, timeout=60, follow_redirects=False) as http:
                doc = http.get("/openapi.json").json()
                for path, item in doc["paths"].items():
                    concrete = re.sub(r"\{[^}]+\}", lambda m: {"{organiser_id}": ORGANISER, "{school_unit_code}": UNIT,
                                                               "{round}": "1", "{version}": "2026.1"}.get(m.group(0),
                                                               str(uuid.uuid4())), path)
                    for variant in [concrete + "/", concrete + "//", "/" + concrete, concrete.upper(),
                                    concrete + "?", concrete + "#x", concrete + ";x", concrete + "/."]:
                        for method in list(item)[:1] + ["head", "options"]:
                            r = http.request(method.upper(), variant, content=b"{}" if method in ("post", "put", "patch") else None,
                                             headers={"content-type": "application/json"} if method in ("post", "put", "patch") else {})
                            line = f"{name} {method.upper()} {variant}: {r.status_code} {r.headers.get('content-type')} loc={r.headers.get('location')}"
                            if r.status_code >= 500 or r.status_code in (301, 302, 307, 308) or (
                                    r.status_code >= 400 and r.content and "problem+json" not in r.headers.get("content-type", "")):
                                line = "!!! " + line + " " + r.text[:120]
                            out.append(line)
        finally:
            service.stop()
    Path(f"{OUT_DIR}/slashes.txt").write_text("\n".join(out))


def test_cross_organiser_ids(infrastructure: Any, token_issuer: Any) -> None:
    out = []
    both = token_issuer.mint(roles=["platform", "principal", "organiser_admin"], organisers=["2999", "2998"],
                             school_units=[UNIT, "29980011"], subject="x", client_id="plat-x")
    only_b = token_issuer.mint(roles=["platform", "principal", "organiser_admin"], organisers=["2998"],
                               school_units=["29980011"], subject="y", client_id="plat-y")
    for name in ("assessment", "lika"):
        service = start_service(name, infrastructure, token_issuer)
        try:
            c = Client(name, service, token_issuer)
            hb = {"Authorization": f"Bearer {both}"}
            ho = {"Authorization": f"Bearer {only_b}"}
            if name == "assessment":
                a = {"organiser_id": "2999", "school_unit_code": UNIT, "group_id": "x-7A", "student_id": "x-s1",
                     "teacher_id": "x-t1", "gender": "female", "year": 7, "subject_code": "GRGRMAT01",
                     "kind": "assessment", "scale": "AF", "value": "C", "school_year": "2026/27", "term": "HT",
                     "round": 1, "assessed_on": "2026-10-01"}
                aid = str(uuid.uuid4())
                b = a | {"organiser_id": "2998", "school_unit_code": "29980011", "assessment_id": aid}
                steps = [("POST", "/v1/assessments", {}, a | {"assessment_id": aid}, hb),
                         ("POST", "/v1/assessments", {}, b, hb), ("POST", "/v1/assessments", {}, b | {"revision": 9}, hb),
                         ("POST", "/v1/assessments", {}, b, ho), ("POST", "/v1/assessments", {}, b | {"revision": 10}, ho),
                         ("POST", "/v1/assessments/{assessment_id}/retract", {"assessment_id": aid}, None, ho),
                         ("POST", "/v1/assessments/batch", {}, {"items": [b | {"revision": 11}]}, ho)]
                aid2 = str(uuid.uuid4())
                steps += [("POST", "/v1/assessments", {}, a | {"assessment_id": aid2, "student_id": "x-s9"}, hb),
                          ("POST", "/v1/assessments", {}, b | {"assessment_id": aid2, "student_id": "x-s9"}, ho),
                          ("POST", "/v1/assessments", {}, b | {"assessment_id": aid2, "student_id": "x-s9", "revision": 5}, ho),
                          ("POST", "/v1/assessments/batch", {}, {"items": [b | {"assessment_id": aid2, "student_id": "x-s9",
                                                                                "revision": 6}]}, ho),
                          ("POST", "/v1/assessments/{assessment_id}/retract", {"assessment_id": aid2}, None, ho),
                          ("POST", "/v1/assessments", {}, a | {"assessment_id": aid2, "student_id": "x-s9"}, hb)]
                ib = {"organiser_id": "2999", "school_unit_code": UNIT, "group_id": "x-7A", "student_id": "x-i",
                      "kind": "extra_adjustment", "status": "proposed", "start_date": "2026-09-01"}
                iid = str(uuid.uuid4())
                pb = {"organiser_id": "2999", "school_unit_code": UNIT, "group_id": "x-7A", "subject_code": "GRGRMAT01",
                      "school_year": "2026/27", "term": "HT", "title": "T", "published_on": "2026-09-01"}
                pid = str(uuid.uuid4())
                steps += [("POST", "/v1/plans", {}, pb | {"plan_id": pid}, hb),
                          ("POST", "/v1/plans", {}, pb | {"plan_id": pid, "organiser_id": "2998",
                                                          "school_unit_code": "29980011"}, ho),
                          ("POST", "/v1/plans/{plan_id}/retract", {"plan_id": pid}, None, ho)]
                steps += [("POST", "/v1/support-interventions", {}, ib | {"intervention_id": iid}, hb),
                          ("POST", "/v1/support-interventions", {}, ib | {"intervention_id": iid, "organiser_id": "2998",
                                                                         "school_unit_code": "29980011"}, ho),
                          ("POST", "/v1/support-interventions/{intervention_id}/retract", {"intervention_id": iid}, None, ho)]
            else:
                sid = str(uuid.uuid4())
                d = {"organiser_id": "2999", "school_unit_code": UNIT, "school_form": "grundskola",
                     "respondent_role": "rektor", "catalogue_version": "2026.2", "self_assessment_id": sid}
                steps = [("POST", "/v1/self-assessments", {}, d, hb),
                         ("POST", "/v1/self-assessments", {}, d | {"organiser_id": "2998", "school_unit_code": "29980011"}, ho),
                         ("GET", "/v1/self-assessments/{self_assessment_id}", {"self_assessment_id": sid}, None, ho),
                         ("PATCH", "/v1/self-assessments/{self_assessment_id}/ratings", {"self_assessment_id": sid},
                          {"ratings": [{"indicator_id": "GR-LED-01", "rating": "PLANNED"}]}, ho),
                         ("DELETE", "/v1/self-assessments/{self_assessment_id}/ratings/{indicator_id}",
                          {"self_assessment_id": sid, "indicator_id": "GR-LED-01"}, None, ho),
                         ("GET", "/v1/self-assessments/compare", {}, None, ho)]
            for method, path, pp, body, h in steps:
                kwargs: dict[str, Any] = {"path_parameters": pp, "expect": ANY, "headers": h}
                if method == "GET" and path.endswith("compare"):
                    kwargs["query"] = {"first": sid, "second": sid}
                elif body is not None:
                    kwargs["body"] = body
                r = c.call(method, path, **kwargs)
                out.append(f"{name} {method} {path} {'both' if h is hb else 'onlyB'} {json.dumps(body)[:80] if body else ''}: "
                           f"{'X' if r is None else r.status_code} {'' if r is None else r.text[:200]}")
            out += [f"WRONG {w[:800]}" for w in c.wrong]
        finally:
            service.stop()
    Path(f"{OUT_DIR}/cross.txt").write_text("\n".join(out))


def test_nothing_lost(infrastructure: Any, token_issuer: Any) -> None:
    out = []
    service = start_service("assessment", infrastructure, token_issuer)
    try:
        c = Client("assessment", service, token_issuer)
        a = {"organiser_id": "2999", "school_unit_code": UNIT, "group_id": "n-7A", "student_id": "n-s1",
             "teacher_id": "n-t1", "gender": "female", "year": 7, "subject_code": "GRGRMAT01",
             "kind": "assessment", "scale": "AF", "value": "C", "school_year": "2026/27", "term": "HT",
             "round": 1, "assessed_on": "2026-10-01"}
        aid = str(uuid.uuid4())
        for body in [a | {"assessment_id": aid, "revision": 3}, a | {"assessment_id": aid, "revision": 3},
                     a | {"assessment_id": aid, "revision": 3, "teacher_id": "n-t2"},
                     a | {"assessment_id": aid, "revision": 3, "unmet_criteria": []},
                     a | {"assessment_id": aid, "revision": 3, "assessed_on": "2026-10-02"},
                     a | {"assessment_id": aid, "revision": 3, "gender": "male"},
                     a | {"assessment_id": aid, "teacher_id": "n-t3"}, a | {"assessment_id": aid, "teacher_id": "n-t3"},
                     a | {"assessment_id": aid, "value": "F", "unmet_criteria": ["b", "a"]},
                     a | {"assessment_id": aid, "value": "F", "unmet_criteria": ["a", "b"]},
                     a | {"assessment_id": aid, "value": "F", "unmet_criteria": ["a", "b"]}]:
            r = c.call("POST", "/v1/assessments", body=body, expect=ANY)
            diff = {k: v for k, v in body.items() if a.get(k) != v and k != "assessment_id"}
            out.append(f"assessment {diff}: {'X' if r is None else r.status_code} {'' if r is None else r.text[:160]}")
        pb = {"organiser_id": "2999", "school_unit_code": UNIT, "group_id": "n-7A", "subject_code": "GRGRMAT01",
              "school_year": "2026/27", "term": "HT", "title": "T", "published_on": "2026-09-01"}
        pid = str(uuid.uuid4())
        for body in [pb | {"plan_id": pid, "revision": 2}, pb | {"plan_id": pid, "revision": 2, "title": "T2"},
                     pb | {"plan_id": pid, "revision": 2, "link": "https://a.se"},
                     pb | {"plan_id": pid, "revision": 2, "criteria_codes": ["ABC"]},
                     pb | {"plan_id": pid, "link": "https://a.se"}, pb | {"plan_id": pid, "link": "https://a.se/"},
                     pb | {"plan_id": pid, "link": "HTTPS://A.SE/"}]:
            r = c.call("POST", "/v1/plans", body=body, expect=ANY)
            diff = {k: v for k, v in body.items() if pb.get(k) != v and k != "plan_id"}
            out.append(f"plan {diff}: {'X' if r is None else r.status_code} {'' if r is None else r.text[:160]}")
        ib = {"organiser_id": "2999", "school_unit_code": UNIT, "group_id": "n-7A", "student_id": "n-i",
              "kind": "extra_adjustment", "status": "proposed", "start_date": "2026-09-01"}
        iid = str(uuid.uuid4())
        for body in [ib | {"intervention_id": iid, "revision": 2}, ib | {"intervention_id": iid, "revision": 2, "description": "d"},
                     ib | {"intervention_id": iid, "revision": 2, "description": None},
                     ib | {"intervention_id": iid, "description": ""}, ib | {"intervention_id": iid, "description": None},
                     ib | {"intervention_id": iid, "description": " "}]:
            r = c.call("POST", "/v1/support-interventions", body=body, expect=ANY)
            diff = {k: v for k, v in body.items() if ib.get(k) != v and k != "intervention_id"}
            out.append(f"intervention {diff}: {'X' if r is None else r.status_code} {'' if r is None else r.text[:160]}")
        out += [f"WRONG {w[:800]}" for w in c.wrong]
    finally:
        service.stop()
    Path(f"{OUT_DIR}/lost.txt").write_text("\n".join(out))


def test_lika_far_dates(infrastructure: Any, token_issuer: Any) -> None:
    out = []
    service = start_service("lika", infrastructure, token_issuer)
    try:
        c = Client("lika", service, token_issuer)
        cat = c.call("GET", "/v1/catalogue/{version}", path_parameters={"version": "2026.2"},
                     query={"school_form": "grundskola"}, expect=ANY)
        ind = [(i["id"], a["id"]) for a in cat.json()["areas"] for i in a["indicators"]]
        for on in ["2199-12-31", "2199-06-30", "2198-12-31", "1900-01-01", "1900-07-01", None]:
            for act, body in [("keep-private", None), ("publish", None), ("keep-private", {"start_term": "VT 2198/99"}),
                              ("keep-private", {"start_term": "HT 1900/01"})]:
                draft = {"organiser_id": ORGANISER, "school_unit_code": UNIT, "school_form": "grundskola",
                         "respondent_role": "rektor", "catalogue_version": "2026.2"} | ({"assessed_on": on} if on else {})
                r = c.call("POST", "/v1/self-assessments", body=draft, expect=ANY)
                if r is None or r.status_code >= 300:
                    out.append(f"draft {on}: {'X' if r is None else r.status_code} {'' if r is None else r.text[:150]}")
                    continue
                sid = r.json()["self_assessment_id"]
                c.call("PATCH", "/v1/self-assessments/{self_assessment_id}/ratings", path_parameters={"self_assessment_id": sid},
                       body={"ratings": [{"indicator_id": i, "rating": "NOT_PLANNED"} for i, _ in ind]}, expect=ANY)
                kwargs: dict[str, Any] = {"path_parameters": {"self_assessment_id": sid}, "expect": ANY}
                if body is not None:
                    kwargs["body"] = body
                r = c.call("POST", f"/v1/self-assessments/{{self_assessment_id}}/{act}", **kwargs)
                out.append(f"{on} {act} {body}: {'X' if r is None else r.status_code} {'' if r is None else r.text[:150]}")
                for path in ["/v1/self-assessments/{self_assessment_id}/action-plan",
                             "/v1/self-assessments/{self_assessment_id}/action-plan/export.xlsx",
                             "/v1/self-assessments/{self_assessment_id}/export.xlsx"]:
                    r = c.call("GET", path, path_parameters={"self_assessment_id": sid}, expect=ANY)
                    out.append(f"   {path[-20:]}: {'X' if r is None else r.status_code}")
        pub = {"organiser_id": ORGANISER, "school_unit_code": UNIT, "school_form": "grundskola",
               "respondent_role": "management_team", "catalogue_version": "2026.2",
               "ratings": [{"indicator_id": i, "area": a, "rating": "PLANNED"} for i, a in ind]}
        for extra in [{"assessed_on": "2199-12-31"}, {"published_at": "2199-12-31T23:59:59-12:00"},
                      {"published_at": "1900-01-01T00:00:00+14:00"}]:
            r = c.call("POST", "/v1/self-assessments/published", body=pub | extra, expect=ANY)
            out.append(f"published {extra}: {'X' if r is None else r.status_code} {'' if r is None else r.text[:150]}")
        out += [f"WRONG {w[:800]}" for w in c.wrong]
    finally:
        service.stop()
    Path(f"{OUT_DIR}/farlika.txt").write_text("\n".join(out))
