"""Hostile round 35: least privilege under fuzzing, tokens' remaining corners, mutated events of other producers.

Tried (tests/campaign35_local.py, tests/scope_fuzz.py; load average 7-13 on the shared 2 cores): every operation of the four services sent URLs drawn from `scope_world`'s ids in and out of scope with the
narrow token of each role DESIGN.md names (a principal of one unit, a teacher of one group, an ICT coordinator, an
area manager, the head of education of ONE organiser, a politician, the public, a platform client, ops), after the
head of education's same request (its kept answers, ETags and next-page cursors replayed with each narrow token);
each answer searched for another unit's code, a student id, the other organiser's ids, and (politician, public) a
count of 1-9 students shown. Counts: by hand 12,096 requests to reporting (40 URLs an operation), 630 to LIKA (its
drafts of three units), 81 to assessment, 63 to forecast, 1,260 to the dashboard's pages and downloads (signed in
with each narrow token, reading the real reporting); schemathesis 4.32.5 (every phase, seed 35, 20 s a token) through
a proxy judging each answer: 5,944 cases on reporting (5,889 answers judged), 4,181 on LIKA (4,141).

Found and mended:

- Tokens validly signed by the issuer were taken with JWS header parameters a plain token never has: `crit: ["b64"]`
  with `b64: true` (PyJWT knows RFC 7797 and takes it; a reader that does not must refuse it, RFC 7515 §4.1.11),
  `cty: "JWT"` over plain claims (RFC 7519 §5.2: the payload is a nested token — two readings of one token), and
  `jku`, `jwk` (the issuer's own public key embedded), `x5u`, `x5c`: never fetched nor trusted here, and now refused
  rather than ignored (no issuer of ours sends them; a token that does is built for a reader that trusts the key it
  brings, and a proxy in front that does must not be handed one that passed). `crit` naming an unknown extension,
  an empty `crit`, and `b64: false` were already refused by PyJWT; the rule is now the kit's own
  (`auth.tokens._plain_header`), not a library version's. `x5t` (a thumbprint: Azure AD, ADFS) stays accepted.
- `aud` as a list with the audience twice, or with an empty string beside it, was taken (PyJWT needs one match):
  now a list of distinct non-empty strings (`auth.tokens._audiences`). `iss` as a list or empty was refused already.

- A read at nation level named the unit asked for as the nation's: `unit_id=43330004` (another organiser's school
  unit) or a student id gave the public, and any reader, the nation's support figures and drill-down under that
  name, in JSON, CSV, xlsx and the file's name. No figure of the unit (the nation's), but a reader, or a report made
  of the file, takes them for the unit's. Now 422 `nation_unit_id` (`params.unit_at_level`, the one check of the
  reads' unit), named in the document's read rules.

Held: no other answer to a narrow token held an id outside its scope — figures, results, exports (csv, xlsx),
alerts, compliance lists, support, LIKA compilation, roster sizes, errors' bodies, the head of education's ETags
(no 304 to another reader) and cursors; the directory's tree and units show every reader of the organiser its
structure (as Skolverket's register does) and roster sizes only of what it reads; no politician's or public answer
showed a count of 1-9 students; no write outside a token's organiser or units was taken. Events: 300 mutations drawn
by hypothesis from the contracts' schemas (fields removed, retyped, added, ids with confusables or invisible
characters, times in 22 RFC 3339 spellings and near misses) among good events: each applied or dead-lettered with a
reason, none lost, the loop never raised; the ones applied were optional fields removed, valid RFC 3339 spellings
(`t`/`z`, `-00:00`, nine fraction digits, `+14:00`) and the envelope's free-text `subject`.

All the tokens joined `styrkedja_devstack.token_attacks.attack_authorizations` (every route of the kit's test app, and
each service's access matrix); here every service is sent each, a 401 problem+json, and the plain token is taken.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from inprocess import ORGANISER, RunningService, start_service
from scope_fuzz import Findings, sweep
from scope_world import PERIOD, A, fed, narrow_tokens
from test_hostile_round34 import first_operation

from styrkedja_devstack.token_attacks import attack_authorizations

pytestmark = [pytest.mark.integration]

#: round 35's attacks in `attack_authorizations`
HEADERS_AND_AUDIENCES = [
    "crit naming an unknown extension", "crit empty", "crit b64 with b64 true", "b64 false under crit",
    "b64 false without crit", "cty JWT over plain claims", "cty JWT over a nested token", "jku",
    "jwk embedded (the issuer's own public key)", "x5u", "x5c", "aud listed twice", "aud with an empty string",
    "aud with an empty string after", "iss a list of itself twice", "iss empty"]


@pytest.mark.postgres_only
def test_tokens_with_header_parameters_of_no_plain_token_are_refused_by_every_service(running, token_issuer):
    """Failed before for `crit b64 with b64 true`, `cty JWT over plain claims`, `jku`, `jwk`, `x5u`, `x5c` and the
    three `aud` lists (each 200 on a read). A thumbprint `x5t` beside `kid` is taken (the control, with the plain)."""
    name, service = running
    attacks = attack_authorizations(token_issuer, organisers=[ORGANISER])
    roles = ["organiser_admin", "ops", "platform", "principal", "teacher", "area_manager"]
    plain = "Bearer " + token_issuer.mint(roles=roles, organisers=[ORGANISER])
    thumbprinted = "Bearer " + _with_header(token_issuer, roles, {"x5t": "q2q8TvB9mcF1wQ0mHxcn8f3sKLw"})
    with httpx.Client(base_url=service.url, timeout=60) as client:
        sent, operation = first_operation(client, plain)
        controls = {"plain": sent(plain), "x5t": sent(thumbprinted)}
        answers = {label: sent(attacks[label]) for label in HEADERS_AND_AUDIENCES}
    assert all(c.status_code != 401 for c in controls.values()), (name, {k: c.text for k, c in controls.items()})
    wrong = [f"{label}: {answer.status_code} {answer.text[:150]}" for label, answer in answers.items()
             if answer.status_code != 401 or answer.headers["content-type"] != "application/problem+json"]
    assert not wrong, (name, operation, wrong)


def _with_header(issuer, roles: list[str], extra: dict[str, str]) -> str:
    import jwt

    claims = jwt.decode(issuer.mint(roles=roles, organisers=[ORGANISER]), options={"verify_signature": False})
    return jwt.encode(claims, issuer.minter.key, algorithm="ES256", headers={"kid": issuer.minter.kid, **extra})


# --- least privilege under fuzzing ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(infrastructure, token_issuer) -> Iterator[RunningService]:
    """Reporting in-process, its database fed `scope_world` (two organisers, every id its own)."""
    service = start_service("reporting", infrastructure, token_issuer)
    try:
        asyncio.run(fed(service.database_url))
        yield service
    finally:
        service.stop()


#: the narrow tokens bound to a place, the sample's
SAMPLED = ("principal of 41110001", "teacher of 41110001/7A", "ICT coordinator of 41110001", "area manager of north",
           "politician of 2999", "the public")


def _minted(issuer: Any) -> tuple[dict[str, str], str]:
    tokens = {n.label: issuer.mint(subject=f"scope-{n.label.split()[0]}", **n.claims) for n in narrow_tokens()}
    return tokens, issuer.mint(roles=["organiser_admin"], organisers=[A], subject="scope-head")


@pytest.mark.postgres_only
def test_no_narrow_token_reads_outside_its_scope_on_any_reporting_operation(world, token_issuer):
    """A sample of the campaign (one URL an operation drawn, seed 35, and each operation asked about every level's
    place outside 41110001 and north: `scope_fuzz.targeted_requests`), for the narrow tokens bound to a place, each
    after the head of education's same request, its ETag and cursor replayed. Held but for the nation's unit (the
    next test); a principal's reach widened to its organiser's units (`policy._reaches`) fails it."""
    tokens, broad = _minted(token_issuer)
    findings = Findings()
    with httpx.Client(base_url=world.url, timeout=120) as client:
        document = client.get("/openapi.json", headers={"authorization": f"Bearer {broad}"}).json()
        sweep(client, document, tokens, [n for n in narrow_tokens() if n.label in SAMPLED], broad, per_operation=1,
              seed=35, findings=findings, targeted=True)
    assert findings.sent > 600 and findings.statuses[200] > 30, (findings.sent, findings.statuses)
    assert not findings.wrong, "\n".join(findings.wrong[:20])


#: reads whose answer at nation level named the unit asked for as the nation's (`params.unit_at_level`)
NATION_READS = [
    ("/v1/support/summary", {}),
    ("/v1/support/below-pass-without-support", {"subject_code": PERIOD["subject_code"]}),
    ("/v1/support/open-investigations", {}),
    ("/v1/support/results-before-after", {"format": "csv"}),
    ("/v1/support/plan-coverage", {"school_year": PERIOD["school_year"], "term": PERIOD["term"], "format": "xlsx"}),
    ("/v1/figures/drill-down", {**PERIOD, "figure": "pass"}),
]


@pytest.mark.postgres_only
@pytest.mark.parametrize("role", ["public", "organiser_admin"])
def test_a_read_at_nation_level_names_no_other_unit_than_the_nation(world, token_issuer, role):
    """Failed before: 200, the nation's figures under `unit_id=43330004` (another organiser's school unit) or a
    student id, in JSON, CSV and xlsx and the file's name — a reader, or a report made of the file, took them for
    that unit's. Now 422 `nation_unit_id` naming `unit_id`; `SE` and no unit at all are the nation (the control)."""
    auth = {"authorization": "Bearer " + token_issuer.mint(roles=[role], organisers=[A] if role != "public" else [])}
    wrong = []
    with httpx.Client(base_url=world.url, timeout=60, headers=auth) as client:
        for path, extra in NATION_READS:
            for unit, status in (("43330004", 422), ("elev-d7A-00", 422), ("SE", 200)):
                response = client.get(path, params={"level": "nation", "unit_id": unit, **extra})
                rules = [(e["field"], e["rule"]) for e in response.json()["errors"]] if status == 422 and \
                    response.headers["content-type"] == "application/problem+json" else []
                if response.status_code != status or (status == 422 and rules != [("unit_id", "nation_unit_id")]):
                    wrong.append(f"{path} unit_id={unit}: {response.status_code} {response.text[:160]}")
                elif status == 422 and unit in response.text:
                    wrong.append(f"{path} unit_id={unit}: the refusal repeats it")
    assert not wrong, "\n".join(wrong)



#: a unit of another level's shape at each level, and the level's own shape (the control: 200)
SHAPES = {"school_unit": (("41110001/7A", "north", "7A"), "41110001"),
          "group": (("41110001", "7A", "41110001/7A/x"), "41110001/7A"),
          "area": (("41110001/7A",), "north")}


@pytest.mark.postgres_only
def test_a_unit_of_another_levels_shape_is_a_422_naming_unit_id(world, token_issuer):
    """Round 35's leftover: support read `level=area&unit_id=41110001/7A` or `level=group&unit_id=41110001` and
    answered 200, empty rows or zeros under the label asked for, as that unit's figures. Now the results', figures'
    and support's reads refuse a unit whose shape is no unit of the level: 422 `unit_id_of_level` naming `unit_id`
    (`params.unit_of_level`); the level's own shape is read (the control)."""
    auth = {"authorization": "Bearer " + token_issuer.mint(roles=["organiser_admin"], organisers=[A])}
    reads = [(path, extra) for path, extra in NATION_READS] + [("/v1/results/assessments", {**PERIOD}), ("/v1/results/forecasts", {**PERIOD})]
    wrong = []
    with httpx.Client(base_url=world.url, timeout=60, headers=auth) as client:
        for level, (others, own) in SHAPES.items():
            for path, extra in reads:
                for unit, status in [(other, 422) for other in others] + [(own, 200)]:
                    params = {"level": level, "unit_id": unit, "organiser_id": A, **extra}
                    response = client.get(path, params=params)
                    rules = [(e["field"], e["rule"]) for e in response.json()["errors"]] if status == 422 and \
                        response.headers["content-type"] == "application/problem+json" else []
                    if response.status_code != status or (status == 422 and rules != [("unit_id", "unit_id_of_level")]):
                        wrong.append(f"{path} level={level} unit_id={unit}: {response.status_code} {response.text[:160]}")
    assert not wrong, "\n".join(wrong)

# --- events of other producers, generated from the contracts' schemas and mutated ----------------------------------

#: characters a producer's id may carry that read as another (Cyrillic, full-width and Arabic-Indic digits, invisible)
CONFUSABLES = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "i": "\u0456", "c": "\u0441", "p": "\u0440",
               **{str(d): chr(0xFF10 + d) for d in range(10)}, "-": "\u2010", "/": "\u2215"}
INVISIBLE = ["\u200b", "\u200d", "\u00ad", "\u2060", "\ufeff", "\u202e"]
#: RFC 3339 spellings (and near misses) of 2026-10-02T08:30:00Z
ODD_TIMES = ["2026-10-02t08:30:00z", "2026-10-02 08:30:00Z", "2026-10-02T08:30:00-00:00", "2026-10-02T08:30:60Z",
             "2026-10-02T08:30:00.123456789Z", "2026-10-02T08:30:00,5Z", "2026-10-02T08:30Z", "2026-10-02T08:30:00",
             "2026-10-02T08:30:00+24:00", "2026-10-02T08:30:00+14:00", "2026-10-02T08:30:00-12:60",
             "20261002T083000Z", "2026-10-02T08:30:00Z ", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z",
             "2026-02-30T08:30:00Z", "2026-10-02T08:30:00+0200", "2026-W40-5T08:30:00Z", "+2026-10-02T08:30:00Z",
             "\u0662\u0660\u0662\u0666-10-02T08:30:00Z", "2026-10-02T08:30:00.Z", "2026-10-02T8:30:00Z"]


def _schema(event_type: str) -> dict[str, Any]:
    from pathlib import Path

    path = Path(__file__).parents[1] / "packages" / "contracts" / "schemas" / f"{event_type}.json"
    return json.loads(path.read_text())


def _fields(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The data's fields, each with its schema (`$ref` and `anyOf` resolved to the first object)."""
    out = {}
    for name, field in schema["properties"].items():
        if "$ref" in field:
            field = schema["$defs"][field["$ref"].rsplit("/", 1)[1]]
        out[name] = next((o for o in field.get("anyOf", []) if o.get("type") != "null"), field)
    return out


def mutated_events(count: int) -> list[tuple[str, str, dict[str, Any] | bytes]]:
    """`count` (what was done, event type, the mutated document) drawn by hypothesis (derandomised: the same list every
    run): a handled type's example from the contracts with a fresh id, then one field of its data (named by its JSON
    schema) or of the envelope removed, retyped, added, its id spelt with a confusable or an invisible character, or
    its time in another RFC 3339 form."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from test_hostile_events import good

    from styrkedja_reporting.main import handler_registry

    registry = handler_registry()
    types = sorted(t for topic in REPORTING_TOPIC_TYPES.values() for t in topic if registry.handles(t))
    out: list[tuple[str, str, dict[str, Any] | bytes]] = []
    values = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(), st.text(max_size=12),
                       st.lists(st.integers(0, 9), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(),
                                                                                 max_size=2))

    @settings(max_examples=count, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def draw(data: st.DataObject) -> None:
        event_type = data.draw(st.sampled_from(types))
        document = good(event_type)
        fields = _fields(_schema(event_type))
        where = data.draw(st.sampled_from(["data", "data", "data", "envelope"]))
        target = document["data"] if where == "data" else document
        names = sorted(fields) if where == "data" else ["id", "source", "type", "time", "specversion", "subject",
                                                          "datacontenttype", "dataschema", "data"]
        name = data.draw(st.sampled_from(names))
        kind = data.draw(st.sampled_from(["removed", "retyped", "extra", "confusable", "time"]))
        texts = [n for n in names if isinstance(target.get(n), str) and n != "type"]
        times = [n for n in names if (fields.get(n, {}).get("format") == "date-time" if where == "data"
                                      else n == "time")]
        if kind == "removed":
            target.pop(name, None)
        elif kind == "retyped":
            target[name] = data.draw(values.filter(lambda v: type(v) is not type(target.get(name))))
        elif kind == "extra":
            name = data.draw(st.text(min_size=1, max_size=12).filter(lambda n: n not in target))
            target[name] = data.draw(values)
        elif kind == "confusable" and texts:
            name = data.draw(st.sampled_from(texts))
            text = target[name]
            at = data.draw(st.integers(0, len(text) - 1)) if text else 0
            swap = CONFUSABLES.get(text[at:at + 1]) if text else None
            target[name] = text[:at] + (swap or data.draw(st.sampled_from(INVISIBLE))) + text[at + (1 if swap else 0):]
        elif kind == "time" and times:
            name = data.draw(st.sampled_from(times))
            target[name] = data.draw(st.sampled_from(ODD_TIMES))
        else:
            return
        out.append((f"{where}.{name} {kind}", event_type, document))

    draw()
    return out


def _topics_of_types() -> dict[str, list[str]]:
    from styrkedja_contracts import TOPICS

    return {topic.name: list(topic.event_types) for topic in TOPICS.values() if "reporting" in topic.consumers}


REPORTING_TOPIC_TYPES = _topics_of_types()


@pytest.mark.postgres_only
async def test_mutated_events_of_other_producers_are_applied_or_dead_lettered_with_a_reason(infrastructure):
    """Reporting's consumer loop (offline: `process` on records, a recording producer for the dead-letter topic), in
    batches of 25 with good events among them: every record is applied or dead-lettered with a reason — none lost,
    none both — and the loop never raises. An id spelt with a confusable or an invisible character is never
    applied (the contracts' identifiers are ASCII). Held."""
    from aiokafka import ConsumerRecord, TopicPartition
    from test_hostile_events import encoded, good

    from styrkedja_devstack.pytest_plugin import migrated_database
    from styrkedja_devstack.testing import RecordingProducer
    from styrkedja_kit.consumer import ConsumerLoop
    from styrkedja_kit.db import Database
    from styrkedja_reporting.main import handler_registry
    from styrkedja_reporting.persistence import metadata
    from styrkedja_reporting.settings import ReportingSettings

    cases = mutated_events(300)
    database_url = migrated_database(infrastructure, "styrkedja_reporting", f"t_hostile35_{uuid.uuid4().hex[:8]}")
    settings = ReportingSettings(database_url=database_url, kafka_bootstrap_servers="unused:9092",
                                 outbox_enabled=False, consumer_enabled=False)
    database = Database(database_url, pool_size=2)
    registry = handler_registry()
    topic_of = {t: name for name, types in REPORTING_TOPIC_TYPES.items() for t in types}
    loop = ConsumerLoop(settings, database, group_id="hostile35-events", topics=list(REPORTING_TOPIC_TYPES),
                        handler=registry, applied_table=metadata.tables["consumer_applied_events"],
                        offsets_table=metadata.tables["consumer_offsets"], handles=registry.handles)
    producer = RecordingProducer()
    offsets: dict[str, int] = {}
    outcome: dict[tuple[str, int], str] = {}
    applied_mutations: list[tuple[str, Any]] = []
    wrong: list[str] = []
    try:
        for start in range(0, len(cases), 20):
            batch: dict[Any, list[ConsumerRecord]] = {}
            chunk = cases[start:start + 20] + [("good", t, good(t)) for t in
                                               ("se.styrkedja.organisation.unit_upserted.v1",
                                                "se.styrkedja.assessment.published.v1")]
            placed = []
            for what, event_type, document in chunk:
                topic = topic_of[event_type]
                offset = offsets.get(topic, 0)
                offsets[topic] = offset + 1
                value = encoded(document) if isinstance(document, dict) else document
                key = str(document.get("data", {}).get("organiser_id", ORGANISER)) if isinstance(document, dict) \
                    and isinstance(document.get("data"), dict) else ORGANISER
                record = ConsumerRecord(topic, 0, offset, 0, 0, key.encode("utf-8", "replace"), value, None,
                                        len(key), len(value), ())
                batch.setdefault(TopicPartition(topic, 0), []).append(record)
                placed.append((what, topic, offset, document))
            applied_before, sent_before = loop.applied_count, len(producer.sent)
            try:
                await loop.process(batch, producer)
            except Exception as error:  # noqa: BLE001 - the finding: the loop would restart on this batch for ever
                wrong.append(f"batch at {start}: the loop raised {type(error).__name__}: {error}")
                continue
            dead = {(t, int(h["dlq.offset"])): h["dlq.reason"].decode() for t, _, h in
                    ((h["dlq.topic"].decode(), v, h) for _, v, h in producer.sent[sent_before:])}
            applied = loop.applied_count - applied_before
            lost = len(placed) - len(dead) - applied
            if lost:
                wrong.append(f"batch at {start}: {lost} records neither applied nor dead-lettered "
                             f"({applied} applied, {len(dead)} dead)")
            for what, topic, offset, document in placed:
                outcome[(topic, offset)] = dead.get((topic, offset), "applied")
                if outcome[(topic, offset)] == "applied" and what != "good":
                    applied_mutations.append((what, document))
                # the envelope's `subject` is free text (CloudEvents: one line, `check_line`), read by no handler
                if "confusable" in what and what != "envelope.subject confusable" \
                        and outcome[(topic, offset)] == "applied":
                    wrong.append(f"{what} ({topic}@{offset}): applied")
    finally:
        await database.dispose()
    assert len(cases) >= 250, len(cases)
    assert not wrong, "\n".join(wrong[:30])
    print("hostile35 events:", len(outcome), "records;", dict(Counter(outcome.values()).most_common()),
          "mutations applied:", sorted(Counter(what for what, _ in applied_mutations).items()))
