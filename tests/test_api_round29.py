"""Round 29: every service as another client reads it — a client generated from its OpenAPI document, checked against
what the service really answers, on every documented operation, its refusals too.

`test_api_conformance.py` sends every operation a valid request and `test_openapi_fuzz.py` generated ones; both judge
status, media type and schema with schemathesis' checks. Neither judged the response headers (a header sent but
documented nowhere is one a generated client never exposes), the refusals the kit's guards answer before routing on
operations that read no body, a 405's `Allow`, or a file answer's headers; and the fuzz only judges that an answer is
*documented*, so a query parameter's enum the service refuses in part passed. Here each is judged by `Judge`: the
status documented for the operation, its media type, a JSON body valid against the documented schema, and every
response header outside the HTTP-level ones (`STANDARD`) documented on that response.

Found and fixed (each test below failed on the old code, as said at it):
- Every file answer (reporting's CSV and xlsx of every table read, LIKA's two workbooks) sent `Content-Disposition`
  that no document named: documented on each (the kit's `documented.document_headers`).
- Reporting's kept reads sent `X-Styrkedja-Newest-Event-Time` and `X-Styrkedja-Consumer-Lag` on every 200 and 304,
  documented on none: now on both (`access.answers.document_kept_answers`).
- Reporting's `POST /v1/admin/alerts/reevaluate` and `/freshness-sweep` (no body) answered a body of another media
  type 415 and one over the bound 413, neither documented (the `RequestGuard` judges a body by the method, before
  routing); a GET declaring a body over the bound was a 413 no GET documented. Now 413 on every operation and
  408/415 on every POST, PUT and PATCH (the kit's `document_problems`).
- The headers the kit sends on refusals and replays: `Accept-Encoding` on a 415 (a compressed body), `Accept-Patch`
  on a PATCH's, `Idempotent-Replayed` on a replayed write's success and `Retry-After` on its 409 (a key still being
  processed): documented where an operation can answer them.
- LIKA's `/v1/self-assessments/published` (POST) answered a PUT 405 with `Allow: GET, HEAD, POST`: the GET of
  `{self_assessment_id}` matches the path too. A 405's `Allow` is now the document's methods at the path's most
  literal template, as OpenAPI matches a concrete path before a templated one (the kit's `allowed_methods`).
- Reporting's `GET /v1/support/below-pass-without-support/students` documented `level` as any of the five levels; it
  refuses three (`list_at_unit_level`): the document now names `group` and `school_unit`.
- LIKA's action-plan `tags` refuse a tag given twice (`unique_tags`), which the document allowed: `uniqueItems`. The
  same edit documented `status`, `priority` and `tags` as nullable; the rules refuse each `null` (`required_value`:
  changed, never cleared): now optional and not nullable (`rules.NOT_CLEARED`).
- Every integer bound in the four documents was written as a float (`maximum: 9.0`, FastAPI's own model of the
  document types them so), which code generators paste into their validation (`@Min(1.0)` does not compile in
  Java, Ballerina refuses it): now integers (the kit's `documented.integer_bounds`).

Tried and held (swept here on every operation, or by tests/campaign29_local.py run locally): every refusal of the
kit's doors (401, 406, 413, 415, 422, 400 `no_body`) documented and problem+json on every operation; HEAD on every
GET answers GET's status and headers without a body; OPTIONS and every method a path does not answer are a 405
problem with `Allow`; a trailing slash is a 404 problem (no redirect a client would follow to another origin);
`If-None-Match` with a kept read's `ETag` a documented 304; JSON answers as `application/json` (no charset: RFC 8259
defines none), CSV as `text/csv; charset=utf-8`; every query parameter's documented enum value and integer bound
taken, one past each refused naming the parameter; every success body of the conformance flows, and of reporting fed
results, forecasts, support and plans read as every role, valid against its schema (nullable fields, enums such as
`withheld`'s reason codes, `additionalProperties: false`) and declaring every property it holds; every query
parameter's pattern and format, and every body field's `null` and omission, as documented; operationIds unique in
each document (and pinned below).
Left alone: `GET /v1/self-assessments/published` is answered by the `{self_assessment_id}` route (a 422 naming the
id), where the document has no GET there (mended in round 30a: a 405 by the kit's `problems.literal_path_first`,
tests/test_hostile_round30a.py). Rules
across fields a schema does not say (a decided intervention names its decider and date, an outcome needs an evaluated
intervention, a value on its scale, one item per id in a batch) are refused naming the field and the rule, each said
in its description; `7.0` for an integer, which JSON Schema counts as one, is refused, as every integer's description
says.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from inprocess import ORGANISER, RunningService, auth
from referencing import Registry
from referencing.jsonschema import DRAFT202012

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

#: headers of HTTP itself and of the kit's hardening, the same on every answer: no document names them
STANDARD = frozenset({"cache-control", "connection", "content-length", "content-security-policy", "content-type",
                      "date", "referrer-policy", "server", "strict-transport-security", "transfer-encoding", "vary",
                      "x-content-type-options", "x-frame-options"})
METHODS = ("get", "post", "put", "patch", "delete")
#: a school unit of this module's own under the broad token's organiser (fed straight into reporting's handlers)
UNIT = "29992929"
OPERATION_IDS = Path(__file__).with_name("openapi_operation_ids.json")


class Judge:
    """Judges an answer by the service's own document, as a generated client reads it."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.registry: Registry[Any] = Registry().with_resource("doc", DRAFT202012.create_resource(document))
        self.wrong: list[str] = []

    def schema_validator(self, schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
        return jsonschema.Draft202012Validator(_rebased(schema), registry=self.registry)

    def __call__(self, method: str, template: str, response: httpx.Response, label: str) -> None:
        where = f"{method} {template} ({label}): {response.status_code}"
        operation = "get" if method == "HEAD" else method.lower()  # HEAD is answered as the GET, without its body
        responses = self.document["paths"][template][operation]["responses"]
        status = str(response.status_code)
        documented = responses.get(status) or responses.get(f"{status[0]}XX") or responses.get("default")
        if documented is None:
            self.wrong.append(f"{where} undocumented (documented: {sorted(responses)}) {response.text[:200]}")
            return
        content = documented.get("content") or {}
        media = response.headers.get("content-type", "").split(";")[0].strip()
        if response.content and method != "HEAD":
            if media not in content:
                self.wrong.append(f"{where} answered {media!r}, documented {sorted(content)}")
            elif media.endswith("json"):
                schema = content[media].get("schema")
                if not schema:
                    self.wrong.append(f"{where} {media} documented without a schema")
                else:
                    self.wrong += [f"{where} body at {list(e.absolute_path)}: {e.message[:300]}"
                                   for e in list(self.schema_validator(schema).iter_errors(response.json()))[:3]]
        said = {name.lower() for name in documented.get("headers") or {}}
        self.wrong += [f"{where} sends {name}: {response.headers[name][:80]!r}, undocumented there"
                       for name in response.headers if name.lower() not in STANDARD | said]

    def done(self, name: str) -> None:
        assert not self.wrong, f"{name}: {len(self.wrong)} answers not as documented:\n" + "\n".join(self.wrong[:60])


def _rebased(node: Any) -> Any:
    """A schema of the document with its local `$ref`s pointing into the document's registry entry."""
    if isinstance(node, dict):
        return {k: "doc" + v if k == "$ref" and isinstance(v, str) and v.startswith("#") else _rebased(v)
                for k, v in node.items()}
    if isinstance(node, list):
        return [_rebased(v) for v in node]
    return node


def document_of(service: RunningService, issuer: Any) -> dict[str, Any]:
    document: dict[str, Any] = httpx.get(f"{service.url}/openapi.json", headers=auth(issuer)).json()
    return document


def concrete(template: str) -> str:
    values = {"organiser_id": ORGANISER, "school_unit_code": UNIT, "round": "1", "version": "1"}
    for part in [p for p in template.split("/") if p.startswith("{")]:
        template = template.replace(part, values.get(part[1:-1], str(uuid.uuid4())))
    return template


@pytest.mark.parametrize("running", ["assessment", "forecast", "lika", "reporting"], indirect=True)
def test_every_operation_answers_the_doors_refusals_as_its_document_says(running, token_issuer):
    """Each operation of the document (the probes aside) without a token, with an Accept it does not answer, with an
    unknown query parameter, HEAD for a GET; each body method with a body of another media type, a compressed one, one
    over the bound, and JSON where the operation reads no body; a method its path does not answer. Failed on the old
    code: reporting's sweeps' 413 and 415 undocumented, LIKA's `Accept-Patch` and every 415's `Accept-Encoding`
    undocumented, `/v1/self-assessments/published`'s `Allow: GET, HEAD, POST`."""
    name, service = running
    document = document_of(service, token_issuer)
    judge = Judge(document)
    limit = 4 * 2**20  # the services' max_body_bytes (the kit's default)
    big = b"[" + b" " * limit + b"]"
    sent_big_get = False
    with httpx.Client(base_url=service.url, headers=auth(token_issuer), timeout=60) as client:
        for template, item in document["paths"].items():
            if template == "/readyz":  # asks the broker (the fuzz test judges it)
                continue
            path = concrete(template)
            methods = [m for m in METHODS if m in item]
            for method in methods:
                operation = item[method]
                asks: list[tuple[str, dict[str, Any]]] = [
                    ("no token", {"headers": {"Authorization": ""}}),
                    ("Accept image/png", {"headers": {"Accept": "image/png"}}),
                    ("unknown parameter", {"params": {"zz_unknown": "1"}})]
                if method in ("post", "put", "patch"):
                    asks += [("text/plain", {"content": b"{}", "headers": {"Content-Type": "text/plain"}}),
                             ("gzip", {"content": gzip.compress(b"{}"), "headers": {
                                 "Content-Type": "application/json", "Content-Encoding": "gzip"}}),
                             ("over the bound", {"content": big, "headers": {"Content-Type": "application/json"}})]
                    if "requestBody" not in operation:
                        asks.append(("a body it does not read", {"json": {"at": "2026-01-01T00:00:00Z"}}))
                elif method == "get" and not sent_big_get and template.startswith("/v1/"):
                    sent_big_get = True
                    asks.append(("a GET over the bound", {"content": big}))
                for label, kwargs in asks:
                    headers = dict(kwargs.pop("headers", None) or {})
                    if headers.get("Authorization") == "":
                        response = httpx.request(method.upper(), service.url + path,
                                                 headers={k: v for k, v in headers.items() if k != "Authorization"},
                                                 **kwargs)
                    else:
                        response = client.request(method.upper(), path, headers=headers, **kwargs)
                    judge(method, template, response, label)
                if method == "get":
                    got, head = client.get(path), client.head(path)
                    judge("HEAD", template, head, "HEAD")
                    assert (head.status_code, head.content) == (got.status_code, b""), (template, head.status_code)
            # a method the path does not answer: a 405 problem allowing exactly the document's methods
            other = next(m for m in ("put", "delete", "patch", "post", "get") if m not in item)
            refused = client.request(other.upper(), path)
            allowed = [m.upper() for m in METHODS if m in item]
            allowed = allowed[:1] + ["HEAD"] + allowed[1:] if "GET" in allowed else allowed
            if (refused.status_code, refused.headers.get("allow")) != (405, ", ".join(allowed)) or \
                    not refused.headers.get("content-type", "").startswith("application/problem+json"):
                judge.wrong.append(f"{other.upper()} {template}: {refused.status_code} Allow "
                                   f"{refused.headers.get('allow')!r}, documented {allowed}")
    judge.done(name)


# --- reporting's tables in every format, and their kept answers ---------------------------------------------

def _query(operation: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """(path values, query) for a table read at the organiser (or, where the document allows no such level, this
    module's school unit), from the parameters the operation declares."""
    path: dict[str, str] = {}
    query: dict[str, Any] = {}
    for parameter in operation.get("parameters", []):
        name, schema = parameter["name"], parameter.get("schema", {})
        if name == "level":
            levels = schema.get("enum", [])
            query[name] = "organiser" if "organiser" in levels else "school_unit"
        if parameter["in"] == "path":
            path[name] = {"organiser_id": ORGANISER, "school_unit_code": UNIT, "round": "1"}[name]
        elif name in ("organiser_id", "school_year", "term"):  # a term names the period (or a round would)
            query[name] = {"organiser_id": ORGANISER, "school_year": "2026/27", "term": "HT"}[name]
    if "level" in query:
        query["unit_id"] = ORGANISER if query["level"] == "organiser" else UNIT
    return path, query


@pytest.mark.parametrize("running", ["reporting"], indirect=True)
def test_every_table_read_answers_json_csv_and_xlsx_as_documented(running, token_issuer):
    """Every GET taking `format` (so a table read added later too), fed results, forecasts, support and a plan, in
    JSON, CSV and xlsx (by `format=` and by `Accept`), and its kept answer revalidated: status, media type, body and
    every header as the document says. Failed on the old code: `Content-Disposition`, `X-Styrkedja-Newest-Event-Time`
    and `X-Styrkedja-Consumer-Lag` undocumented on every one; the students' list's `level` documented as five
    levels, three of them refused."""
    from test_hostile_round13 import event, feed, organiser_events

    name, service = running
    events = organiser_events((ORGANISER,), UNIT, "r29")
    for n in range(12):
        events.append(event("se.styrkedja.support.intervention_recorded.v1", intervention_id=str(uuid.uuid4()),
                            organiser_id=ORGANISER, school_unit_code=UNIT, group_id="7A", student_id=f"s-r29-{n}",
                            kind=("extra_adjustment", "investigation")[n % 2], investigation_id=None))
    events.append(event("se.styrkedja.plan.published.v1", plan_id=str(uuid.uuid4()), organiser_id=ORGANISER,
                        school_unit_code=UNIT, group_id="7A"))
    asyncio.run(feed(service.database_url, events))
    document = document_of(service, token_issuer)
    judge = Judge(document)
    tables = [(template, item["get"]) for template, item in document["paths"].items()
              if "get" in item and any(p["name"] == "format" for p in item["get"].get("parameters", []))]
    assert len(tables) >= 20, [t for t, _ in tables]
    with httpx.Client(base_url=service.url, headers=auth(token_issuer), timeout=60) as client:
        for template, operation in tables:
            path, query = _query(operation)
            url = template.format(**path)
            for label, params, headers in (("json", query, {}), ("csv", query | {"format": "csv"}, {}),
                                           ("xlsx", query | {"format": "xlsx"}, {}),
                                           ("Accept text/csv", query, {"Accept": "text/csv"})):
                response = client.get(url, params=params, headers=headers)
                if response.status_code != 200:
                    judge.wrong.append(f"GET {template} {params} ({label}): {response.status_code} "
                                       f"{response.text[:300]}")
                    continue
                judge("GET", template, response, label)
                if label != "json":
                    assert "attachment" in response.headers.get("content-disposition", ""), (template, label)
                if "etag" in response.headers:
                    again = client.get(url, params=params, headers=headers | {"If-None-Match": response.headers["etag"]})
                    assert again.status_code == 304, (template, label, again.status_code)
                    judge("GET", template, again, f"{label} If-None-Match")
    judge.done(name)


def _edges(schema: dict[str, Any]) -> list[tuple[Any, bool]]:
    """(value, valid by the document) at the edges of a query parameter's schema: each enum value and one beyond,
    each integer bound and one past it, a value its pattern refuses."""
    out: list[tuple[Any, bool]] = []
    for option in [o for o in schema.get("anyOf", [schema]) if o.get("type") != "null"]:
        if option.get("type") == "array":
            out += [([value], valid) for value, valid in _edges(option.get("items", {}))]
        if "enum" in option:
            out += [(value, True) for value in option["enum"]] + [("not-a-value", False)]
        if option.get("type") == "integer":
            for bound, step in (("minimum", -1), ("maximum", 1)):
                if bound in option:
                    out += [(option[bound], True), (option[bound] + step, False)]
        if option.get("type") == "string" and "pattern" in option:
            out.append(("!!", False))
    return out


@pytest.mark.parametrize("running", ["reporting"], indirect=True)
def test_every_query_value_the_document_allows_is_taken_and_one_beyond_is_refused(running, token_issuer):
    """Each GET of reporting answerable at the organiser (or this module's school unit), each query parameter in turn
    at each of its enum values and integer bounds (taken: never refused naming the parameter) and one beyond
    (refused: a 422 naming it). Failed on the old code: the students' list's `level` documented five levels, three of
    them refused `list_at_unit_level`."""
    name, service = running
    document = document_of(service, token_issuer)
    units = {"organiser": ORGANISER, "school_unit": UNIT, "group": f"{UNIT}/7A", "area": "area-r29"}
    wrong: list[str] = []
    skipped: list[str] = []
    swept = 0
    with httpx.Client(base_url=service.url, headers=auth(token_issuer), timeout=60) as client:
        for template, item in document["paths"].items():
            operation = item.get("get")
            if operation is None or not template.startswith("/v1/") or "{unit_id}" in template:
                continue
            path, query = _query(operation)
            url = template.format(**path)
            base = client.get(url, params=query)
            if base.status_code == 422:  # every value asked is one the document allows
                wrong.append(f"GET {template} {query}: refused {base.text[:300]}")
            if base.status_code != 200:
                skipped.append(f"{template}: {base.status_code} {base.text[:150]}")
                continue
            for parameter in operation.get("parameters", []):
                if parameter["in"] != "query":
                    continue
                field = parameter["name"]
                for value, valid in _edges(parameter.get("schema", {})):
                    asked = query | {field: value}
                    if field == "level" and value in units:
                        asked["unit_id"] = units[value]
                    if field == "level" and value == "nation":
                        asked = {k: v for k, v in asked.items() if k not in ("unit_id", "organiser_id")}
                    response = client.get(url, params=asked)
                    swept += 1
                    named = [e["field"] for e in response.json().get("errors") or []] if \
                        response.headers.get("content-type", "").startswith("application/problem+json") else []
                    hit = [f for f in named if f == field or str(f).startswith(f"{field}.")]
                    if valid and hit:
                        wrong.append(f"GET {template} {field}={value!r} (documented) refused: {response.text[:200]}")
                    if not valid and not (response.status_code == 422 and hit):
                        wrong.append(f"GET {template} {field}={value!r} (not documented): {response.status_code} "
                                     f"{response.text[:200]}")
    print("not swept (no answer to ask from):", skipped)
    assert swept > 200, swept
    assert not wrong, f"{len(wrong)} of {swept}:\n" + "\n".join(wrong[:40])


# --- a replayed write ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("running", ["assessment", "reporting"], indirect=True)
def test_a_replayed_write_answers_its_documented_header(running, token_issuer):
    """The same write twice under one `Idempotency-Key`: the second is the first's answer with `Idempotent-Replayed:
    true`, documented on that response. Failed on the old code: the header undocumented."""
    name, service = running
    document = document_of(service, token_issuer)
    judge = Judge(document)
    key = {"Idempotency-Key": str(uuid.uuid4())}
    if name == "assessment":
        template = "/v1/plans"
        body: dict[str, Any] = {"organiser_id": ORGANISER, "school_unit_code": UNIT, "group_id": "r29-7A",
                                "subject_code": "GRGRMAT01", "school_year": "2026/27", "term": "HT",
                                "title": "Bråk", "published_on": "2026-09-01"}
    else:
        template = "/v1/directory/changes"
        body = {"items": [{"type": "se.styrkedja.organisation.unit_upserted.v1", "data": {
            "unit_type": "group", "unit_id": "r29-replay", "organiser_id": ORGANISER, "name": "Replay",
            "school_unit_code": UNIT, "year": 7, "parent_id": "su-r29", "updated_at": "2026-08-14T06:30:00+02:00"}}]}
    with httpx.Client(base_url=service.url, headers=auth(token_issuer) | key, timeout=60) as client:
        first, again = client.post(template, json=body), client.post(template, json=body)
    assert first.status_code < 300 and again.status_code < 300, (first.text[:300], again.text[:300])
    assert again.headers.get("idempotent-replayed") == "true", dict(again.headers)
    judge("POST", template, first, "first")
    judge("POST", template, again, "replayed")
    judge.done(name)


# --- the documents themselves ---------------------------------------------------------------------------------

def _operation_ids(document: dict[str, Any]) -> list[str]:
    return [operation.get("operationId", "") for item in document["paths"].values()
            for method, operation in item.items() if method in METHODS]


def test_operation_ids_are_unique_present_and_stable():
    """A generated client names its methods by operationId: a route renamed (FastAPI derives the id from the function's
    name, path and method) renames a client's method. Each id is unique in its document, and the four documents' ids
    are the ones pinned in `openapi_operation_ids.json`: a change there is a change of every generated client, to
    be made on purpose (write the file again with `STYRKEDJA_WRITE_OPERATION_IDS=1`)."""
    import os

    from test_docs_examples import openapi

    found = {service: sorted(_operation_ids(openapi(service))) for service in ("assessment", "forecast", "lika",
                                                                                 "reporting")}
    for service, ids in found.items():
        assert all(ids), f"{service}: an operation without an operationId"
        assert len(ids) == len(set(ids)), f"{service}: {sorted({i for i in ids if ids.count(i) > 1})}"
    if os.environ.get("STYRKEDJA_WRITE_OPERATION_IDS") == "1":
        OPERATION_IDS.write_text(json.dumps(found, indent=1) + "\n")
    pinned = json.loads(OPERATION_IDS.read_text())
    for service in found:
        gone, new = sorted(set(pinned[service]) - set(found[service])), sorted(set(found[service]) - set(pinned[service]))
        assert not gone and not new, f"{service}: operationIds gone {gone}, new {new}"


def test_integer_bounds_are_integers_in_every_document():
    """Failed on the old code: every bound of an integer written as a float (`"maximum": 9.0`)."""
    from test_docs_examples import openapi

    wrong: list[str] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            if node.get("type") == "integer":
                wrong.extend(f"{where}.{k}={node[k]!r}" for k in ("minimum", "maximum", "exclusiveMinimum",
                                                                   "exclusiveMaximum") if isinstance(node.get(k), float))
            for key, value in node.items():
                walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for n, value in enumerate(node):
                walk(value, f"{where}.{n}")

    for service in ("assessment", "forecast", "lika", "reporting"):
        walk(openapi(service), service)
    assert not wrong, wrong[:20]


def test_lika_item_edit_documents_what_its_rules_take():
    """An action-plan item's edit: `status`, `priority` and `tags` are left out to keep them, never `null` (the rules'
    `required_value`), and a tag is given once (`unique_tags`). Failed on the old code: all three documented as
    nullable, and `tags` without `uniqueItems`, so a client generated from the document built edits the rules
    refuse."""
    from test_docs_examples import openapi

    from styrkedja_lika.action_plans.rules import NOT_CLEARED

    document = openapi("lika")
    edit = document["paths"]["/v1/self-assessments/{self_assessment_id}/action-plan/items/{activity_id}"]["patch"]
    ref = edit["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    properties = document["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]
    validator = jsonschema.Draft202012Validator(_rebased({"$ref": ref}), registry=Judge(document).registry)
    for name in NOT_CLEARED:
        assert not validator.is_valid({name: None}), (name, properties[name])
        assert name not in document["components"]["schemas"][ref.rsplit("/", 1)[1]].get("required", [])
    for name in ("owner", "due_date", "note"):  # cleared by null, as documented
        assert validator.is_valid({name: None}), (name, properties[name])
    assert not validator.is_valid({"tags": ["IKT", "IKT"]})
    assert validator.is_valid({"tags": ["IKT", "Nätverk"], "priority": 1, "status": "planned"})
