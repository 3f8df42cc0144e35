"""Hostile inputs, round 30 (a): three gaps left at the doors at the end of session 29 — a withdrawal's id, a fixed
path under a parameter route, and paging alerts and audit.

Found and fixed (each test below failed on the old code, as said at it):
- `forecast.withdrawn.v1` took any `forecast_id`. Round 29r held the submission's id to its key
  (`events.forecast.forecast_id_broken`, `derived_from_key`); a withdrawal produced straight to Kafka under the id of
  one student's forecast and the key of another (or an id of no key) was applied by reporting, live and rebuilt: it
  took back the first student's forecast (its counts left the unit's figures). Now every forecast event carrying the
  id and its key holds the rule (found from the registry: the submission and the withdrawal; none carries the id
  without its key), dead-lettered `invalid_data` naming `forecast_id` and the rule, by the live decode (its fast path
  and the ordinary one) and the rebuild's; `door_rules.HELD` names both. The withdrawal's HTTP door takes only an id
  the service stored, which is its key's (a 404 else): its events hold the rule, a forecast stored before identity1
  under the id of its organiser's spelling then too (services/forecast/tests/integration/test_forecast_api.py).
- A path of a template with fixed segments that a templated route matches too was answered by the templated route
  for a method the fixed one does not answer: LIKA's `GET /v1/self-assessments/published` (POST only) was the
  `{self_assessment_id}` GET's 422 naming an id no client sent (round 29 left it). The router takes the first route
  answering the method; OpenAPI matches the concrete path first. Now every operation (the kit's app-wide
  `problems.literal_path_first`, the templates from the document) answers such a method 405 naming `method`, its
  `Allow` the fixed template's methods, as routing's own 405. The pairs are found from each app's routes (LIKA's
  `/v1/self-assessments/published` and `/compare` beside `/{self_assessment_id}`; the assessment, forecast and
  reporting services have none, nor the dashboard) and walked on each running service, every method.
- Reporting's alert list (`GET /v1/alerts`) and audit trail (`GET /v1/audit/reads`) answered `limit` rows and no
  more (5,000 and 10,000 at most): past those a client read nothing. Both now page as LIKA's list does — a first
  page without `after`, each next named by `Link: rel="next"` — by keyset: the cursor (the kit's `paging`) carries
  the last row's position in the list's total order (`changed_at` then id; `at` then id), so a row arriving between
  pages moves no other into or out of the next, and only a cursor the service wrote is read (anything else a 422
  naming `after`, `page_cursor`). Paged through while rows arrive, every row seen exactly once:
  services/reporting/tests/integration/test_paged_reads.py; the cursor: packages/kit/tests/test_paging.py.
  Left: an alert changed between two pages (acknowledged, resolved) moves to the top of a newest-change-first
  list, ahead of the cursor: a client paging meanwhile reads it on its next first page, not on this pass.
"""

from __future__ import annotations

import importlib
import uuid
from typing import Any

import httpx
import pytest
from aiokafka import ConsumerRecord, TopicPartition
from inprocess import auth
from sqlalchemy import text
from test_api_round29 import METHODS, concrete
from test_hostile_round29r import FORECAST, _names, _record

from styrkedja_contracts import ContractError, decode_event, forecast_id_for
from styrkedja_contracts.door_rules import HELD
from styrkedja_contracts.envelope import decode_plain
from styrkedja_reporting.rebuild.bulk import decoded_and_staged

WITHDRAWN = "se.styrkedja.forecast.withdrawn.v1"
#: the examples' forecast (student `stu-2c81d4`, English, VT 2026/27 of organiser 2999) and its id
KEY = ("2999", "stu-2c81d4", "GRGRENG01", "2026/27", "VT")
OWN_ID = str(forecast_id_for(*KEY))

#: withdrawals another producer may send, each under an id not of its key: (data changed, what it was)
REFUSED_WITHDRAWALS: list[tuple[dict[str, Any], str]] = [
    ({"student_id": "stu-other"}, "the id of another student's forecast: took that one back"),
    ({"forecast_id": str(uuid.UUID(int=30))}, "an id of no key"),
    ({"term": "HT"}, "the id of the VT forecast under the HT key"),
    ({"forecast_id": str(forecast_id_for("2998", *KEY[1:]))}, "another organiser's id for the same student"),
]
TAKEN_WITHDRAWALS: list[dict[str, Any]] = [
    {},
    {"term": "HT", "forecast_id": str(forecast_id_for(*KEY[:4], "HT"))},
    # a forecast of before identity1: the id of the organiser as sent then, the organiser as kept now
    {"organiser_id": "212000-1234", "forecast_id": str(forecast_id_for("2120001234", *KEY[1:]))},
]


def _log(plain: bool) -> tuple[list[tuple[Any, ...]], list[int]]:
    """The example's forecast, each refused withdrawal with a taken event after it; the refused indexes."""
    raw = [_record(0, FORECAST, {}, plain)]
    refused = []
    for n, (changed, _) in enumerate(REFUSED_WITHDRAWALS):
        refused.append(len(raw))
        raw.append(_record(len(raw), WITHDRAWN, changed, plain))
        raw.append(_record(len(raw), FORECAST, {"revision": 2 + n}, plain))
    return raw, refused


def test_the_withdrawal_holds_the_id_rule_in_the_door_table() -> None:
    """Failed on the old code: `derived_from_key` was the submission's alone."""
    assert WITHDRAWN in HELD["derived_from_key"] and FORECAST in HELD["derived_from_key"]


@pytest.mark.parametrize("plain", [True, False], ids=["fast path", "ordinary path"])
def test_a_withdrawal_under_an_id_not_of_its_key_is_refused_by_the_decode_naming_field_and_rule(plain: bool) -> None:
    """Each withdrawal under an id not of its key is refused by the live decode as `invalid_data`, naming
    `forecast_id` and `derived_from_key`; one under its key's id is taken (by the fast path too). Failed on the old
    code: all four were taken."""
    for n, (changed, what) in enumerate(REFUSED_WITHDRAWALS):
        with pytest.raises(ContractError) as caught:
            decode_event(_record(n, WITHDRAWN, changed, plain)[3])
        assert caught.value.reason == "invalid_data", what
        assert _names(caught.value.message, "forecast_id", "derived_from_key"), (what, caught.value.message)
    for n, changed in enumerate(TAKEN_WITHDRAWALS):
        raw = _record(n, WITHDRAWN, changed, plain)[3]
        decode_event(raw)
        if plain:
            assert decode_plain(raw) is not None, changed


@pytest.mark.parametrize("plain", [True, False], ids=["fast path", "ordinary path"])
def test_the_rebuild_dead_letters_each_withdrawal_under_another_id_and_reads_the_rest(plain: bool) -> None:
    """The rebuild's decode (rows, and its COPY lines) dead-letters exactly the refused withdrawals, naming the field
    and the rule, and reads every other event. Failed on the old code: it read them all."""
    raw, refused = _log(plain)
    for as_text in (False, True):
        staged = decoded_and_staged(raw, 0, 64_000, as_text=as_text)
        assert [d[0] for d in staged.dead] == refused, (as_text, staged.dead)
        for _, reason, message in staged.dead:
            assert reason == "invalid_data" and _names(message, "forecast_id", "derived_from_key"), message
        assert staged.read == len(raw) - len(refused)


@pytest.mark.postgres_only
async def test_reporting_s_live_consumer_dead_letters_a_withdrawal_under_another_id_and_keeps_the_forecast(
        infrastructure: Any) -> None:
    """Reporting's consumer loop on a migrated database: each refused withdrawal goes to the dead-letter topic as
    `invalid_data` naming the field and the rule, every other event is applied, and the example's forecast stays
    submitted (not withdrawn). Failed on the old code: the withdrawals were applied, the first took the student's
    forecast back (`forecast_facts.withdrawn`)."""
    from styrkedja_devstack.testing import RecordingProducer
    from styrkedja_kit.consumer import ConsumerLoop
    from styrkedja_kit.db import Database
    from styrkedja_kit.migrations import upgrade
    from styrkedja_reporting.main import handler_registry
    from styrkedja_reporting.persistence import metadata
    from styrkedja_reporting.settings import ReportingSettings

    database_url = infrastructure.create_database(f"t_hostile_30a_{uuid.uuid4().hex[:8]}")
    upgrade("styrkedja_reporting", database_url)
    settings = ReportingSettings(database_url=database_url, kafka_bootstrap_servers="unused:9092",
                                 outbox_enabled=False, consumer_enabled=False)
    database = Database(database_url, pool_size=2)
    registry = handler_registry()
    raw, refused = _log(True)
    raw = raw[:1] + raw[1::2]  # the forecast, then the withdrawals alone (its later revisions would restore it)
    refused = list(range(1, len(raw)))
    batches: dict[TopicPartition, list[ConsumerRecord]] = {}
    for topic, partition, offset, value, timestamp, key, _ in raw:
        batches.setdefault(TopicPartition(topic, partition), []).append(
            ConsumerRecord(topic, partition, offset, timestamp, 0, key, value, None, len(key), len(value), ()))
    producer = RecordingProducer()
    try:
        loop = ConsumerLoop(settings, database, group_id="hostile-30a", topics=sorted({tp.topic for tp in batches}),
                            handler=registry, applied_table=metadata.tables["consumer_applied_events"],
                            offsets_table=metadata.tables["consumer_offsets"], handles=registry.handles)
        await loop.process(batches, producer)
        letters = {int(h["dlq.offset"]): (h["dlq.reason"], h["dlq.message"].decode()) for _, _, h in producer.sent}
        assert sorted(letters) == [raw[i][2] for i in refused], producer.sent
        for reason, message in letters.values():
            assert reason == b"invalid_data" and _names(message, "forecast_id", "derived_from_key"), message
        async with database.sessions() as session:
            facts = (await session.execute(text(
                "SELECT forecast_id::text, student_id, withdrawn FROM forecast_facts"))).all()
        assert [tuple(f) for f in facts] == [(OWN_ID, "stu-2c81d4", False)]
        assert loop.applied_count == 1
    finally:
        await database.dispose()


# --- a fixed path under a parameter route ------------------------------------------------------------------------

def _segments(template: str) -> list[str]:
    return template.strip("/").split("/")


def fixed_under_templated(service: str) -> list[tuple[str, frozenset[str], str, frozenset[str]]]:
    """(fixed template, its methods, templated template, its methods): each pair of the app's own routes where the
    second has a parameter at a segment the first fixes, and matches every other segment of it."""
    from styrkedja_kit.auth.web import api_routes

    with pytest.MonkeyPatch.context() as env:  # placeholder settings: the app is built, never started
        env.setenv("STYRKEDJA_AUTH_ISSUER", "http://127.0.0.1:9")
        env.setenv("STYRKEDJA_DATABASE_URL", "postgresql+asyncpg://docs@127.0.0.1:9/docs")
        routes = api_routes(importlib.import_module(f"styrkedja_{service}.main").app)
    methods: dict[str, frozenset[str]] = {}
    for route in routes:
        methods[route.path] = methods.get(route.path, frozenset()) | route.methods
    pairs = []
    for fixed, own in methods.items():
        for templated, its in methods.items():
            a, b = _segments(fixed), _segments(templated)
            if len(a) == len(b) and fixed != templated and all(y == x or y.startswith("{")
                                                               for x, y in zip(a, b, strict=True)) and \
                    any(y.startswith("{") and not x.startswith("{") for x, y in zip(a, b, strict=True)):
                pairs.append((fixed, own, templated, its))
    return pairs


def test_the_pairs_are_found_from_the_routes() -> None:
    """The walk below has something to walk: LIKA's two (the pair of round 29's report among them)."""
    found = {service: [(f, t) for f, _, t, _ in fixed_under_templated(service)]
             for service in ("assessment", "forecast", "lika", "reporting")}
    assert ("/v1/self-assessments/published", "/v1/self-assessments/{self_assessment_id}") in found["lika"], found


@pytest.mark.postgres_only
@pytest.mark.parametrize("running", ["assessment", "forecast", "lika", "reporting"], indirect=True)
def test_every_fixed_path_under_a_templated_route_answers_its_own_methods_and_405_the_rest(running, token_issuer):
    """At each pair, every method: one the fixed template does not answer (HEAD for a GET too) is a 405 problem
    naming `method` (`method_not_allowed`), its `Allow` the fixed template's methods; one it answers is its own,
    never the templated route's (no refusal naming the templated route's parameter at that segment). Failed on the
    old code: `GET` and `HEAD /v1/self-assessments/published` were 422 naming `self_assessment_id`."""
    name, service = running
    wrong: list[str] = []
    with httpx.Client(base_url=service.url, headers=auth(token_issuer), timeout=60) as client:
        for fixed, own, templated, _ in fixed_under_templated(name):
            path = concrete(fixed)
            segment = next(y[1:-1].partition(":")[0] for x, y in zip(_segments(fixed), _segments(templated),
                                                                     strict=True)
                           if y.startswith("{") and not x.startswith("{"))
            allow = [m.upper() for m in METHODS if m.upper() in own]
            allow = allow[:1] + ["HEAD"] + allow[1:] if "GET" in allow else allow
            for method in [m.upper() for m in METHODS] + ["HEAD"]:
                response = client.request(method, path)
                where = f"{method} {path} ({fixed} beside {templated}): {response.status_code}"
                answered = method if method != "HEAD" else "GET"
                fields = [e.get("field") for e in response.json().get("errors") or []] if response.content and \
                    response.headers.get("content-type", "").startswith("application/problem+json") else []
                if answered in own:
                    if response.status_code == 405 or segment in fields:
                        wrong.append(f"{where} answered as {templated}: {response.text[:200]}")
                    continue
                if response.status_code != 405 or response.headers.get("allow") != ", ".join(allow):
                    wrong.append(f"{where} Allow {response.headers.get('allow')!r}, expected 405 {allow}: "
                                 f"{response.text[:200]}")
                elif method != "HEAD" and fields != ["method"]:
                    wrong.append(f"{where} names {fields}, expected `method`")
    assert not wrong, "\n".join(wrong)
