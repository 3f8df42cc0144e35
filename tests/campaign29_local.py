"""Round 29's local sweep: NOT collected in CI (no `test_` file prefix); run it explicitly, e.g.

    STYRKEDJA_TEST_BROKERS=embedded python -m pytest tests/campaign29_local.py -q -s -k reporting

Each service in-process (`running`), sent the conformance flows' valid requests (`test_api_conformance`), reporting
fed results, forecasts, support and plans first; every answer judged by the served document (`judge`: status, media
type, body against its schema and against the schema closed to undeclared properties, every header outside HTTP's
own), each GET again as HEAD, with `If-None-Match`, in CSV and xlsx and as four roles; then each query parameter and
each top-level body field of each request at its documented edges (enum values, bounds, patterns, `null`, left out;
`constraint_sweep`, `body_sweep`) and the doors (`door_sweep`: no token, Accept, unknown parameter, other organiser,
media types, over the bound, OPTIONS, methods not answered, trailing slashes). Findings are written to
$CAMPAIGN_OUT/<service>.txt (default /tmp/styrkedja-campaign29), `INFO` lines for reading. It asserts nothing: it
is read. What it found is in tests/test_api_round29.py."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from inprocess import ORGANISER
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from test_api_conformance import Client, assessment_flow, forecast_flow, lika_flow, reporting_flow

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

FINDINGS: list[str] = []
STANDARD = {"cache-control", "content-length", "content-security-policy", "content-type", "date", "server",
            "transfer-encoding", "vary", "x-content-type-options", "x-frame-options", "referrer-policy",
            "strict-transport-security", "connection"}


def validator(document: dict[str, Any], schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    registry = Registry().with_resource("doc", DRAFT202012.create_resource(document))
    return jsonschema.Draft202012Validator(_rebase(schema), registry=registry)


def _closed(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _closed(v) for k, v in node.items()}
        if "properties" in out and "additionalProperties" not in out and "patternProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_closed(v) for v in node]
    return node


def closed_validator(document: dict[str, Any], schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    registry = Registry().with_resource("doc", DRAFT202012.create_resource(_closed(document)))
    return jsonschema.Draft202012Validator(_rebase(_closed(schema)), registry=registry)


def _rebase(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: ("doc" + v if k == "$ref" and isinstance(v, str) and v.startswith("#") else _rebase(v))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_rebase(v) for v in node]
    return node


def judge(document: dict[str, Any], method: str, path: str, response: httpx.Response, label: str) -> None:
    operation = document["paths"].get(path, {}).get(method.lower())
    if operation is None:
        FINDINGS.append(f"{label}: no operation {method} {path}")
        return
    documented = operation["responses"].get(str(response.status_code)) or operation["responses"].get(
        f"{str(response.status_code)[0]}XX") or operation["responses"].get("default")
    if documented is None:
        FINDINGS.append(f"{label}: {response.status_code} undocumented ({sorted(operation['responses'])}) "
                        f"{response.text[:200]}")
        return
    media = response.headers.get("content-type", "")
    base = media.split(";")[0].strip()
    content = documented.get("content") or {}
    if response.content and method != "HEAD":
        if base not in content:
            FINDINGS.append(f"{label}: {response.status_code} media {media!r} not in {sorted(content)}")
        elif base.endswith("json"):
            schema = content[base].get("schema")
            if not schema:
                FINDINGS.append(f"{label}: {response.status_code} {base} without schema")
            else:
                errors = list(validator(document, schema).iter_errors(response.json()))
                FINDINGS.append(f"INFO SIZE {label} {response.status_code} {len(response.content)}")
                if not errors:
                    for e in list(closed_validator(document, schema).iter_errors(response.json()))[:3]:
                        FINDINGS.append(f"UNDECLARED {label}: {response.status_code} {list(e.absolute_path)}: "
                                        f"{e.message[:200]}")
                for e in errors[:3]:
                    FINDINGS.append(f"{label}: {response.status_code} body {list(e.absolute_path)}: {e.message[:300]}")
    headers = {k.lower() for k in (documented.get("headers") or {})}
    for name in response.headers:
        FINDINGS.append(f"INFO HEADER {name.lower()} {response.status_code} {label.split(' ')[0]} {path}")
    for name in response.headers:
        if name.lower() not in STANDARD and name.lower() not in headers:
            FINDINGS.append(f"{label}: {response.status_code} sends header {name}: "
                            f"{response.headers[name][:80]!r} undocumented")


class Probe(Client):
    def __init__(self, name: str, running: Any, issuer: Any) -> None:
        super().__init__(name, running, issuer)
        self.document = httpx.get(f"{running.url}/openapi.json", headers=self.headers).json()
        self.http = httpx.Client(base_url=running.url, headers=self.headers, timeout=60)
        self.bases: dict[tuple[str, str], Any] = {}

    def call(self, method: str, path: str, *, path_parameters: dict[str, Any] | None = None,
             query: dict[str, Any] | None = None, body: Any = None, expect: tuple[int, ...] = (200, 201),
             headers: dict[str, str] | None = None) -> httpx.Response | None:
        response = super().call(method, path, path_parameters=path_parameters, query=query, body=body,
                                expect=expect, headers=headers)
        url = path.format(**(path_parameters or {}))
        if response is not None and response.status_code < 300 and (method, path) not in self.bases:
            self.bases[(method, path)] = (dict(path_parameters or {}), dict(query or {}), body)
        label = f"{method} {path}"
        sent = self.http.request(method, url, params=query, json=body, headers=headers) if (
            method in ("GET",)) else response
        if sent is None:
            return response
        judge(self.document, method, path, sent, label)
        if method == "GET":
            head = self.http.request("HEAD", url, params=query)
            if head.status_code != sent.status_code or head.content:
                FINDINGS.append(f"HEAD {path}: {head.status_code} vs GET {sent.status_code} body={len(head.content)}")
            for k in ("content-type", "etag", "content-disposition"):
                if (k in head.headers) != (k in sent.headers):
                    FINDINGS.append(f"HEAD {path}: header {k} {head.headers.get(k)} vs GET {sent.headers.get(k)}")
            if "etag" in sent.headers:
                again = self.http.request("GET", url, params=query, headers={"If-None-Match": sent.headers["etag"]})
                judge(self.document, method, path, again, label + " If-None-Match")
                if again.status_code != 304:
                    FINDINGS.append(f"{label}: If-None-Match → {again.status_code}")
            elif sent.status_code == 200:
                pass
            params = [p["name"] for p in self.document["paths"][path]["get"].get("parameters", [])]
            if "format" in params:
                for fmt in ("csv", "xlsx"):
                    exported = self.http.request("GET", url, params=(query or {}) | {"format": fmt})
                    judge(self.document, method, path, exported, f"{label} format={fmt}")
                exported = self.http.request("GET", url, params=query, headers={"Accept": "text/csv"})
                judge(self.document, method, path, exported, f"{label} Accept text/csv")
            # a client asking for what the operation documents only
            for accept in ("application/xml", "text/html"):
                refused = self.http.request("GET", url, params=query, headers={"Accept": accept})
                judge(self.document, method, path, refused, f"{label} Accept {accept}")
        return response


def _values(schema: dict[str, Any]) -> list[tuple[Any, bool]]:
    """(value, valid by the document) at the edges of a parameter's schema."""
    options = [o for o in schema.get("anyOf", [schema]) if o.get("type") != "null"]
    out: list[tuple[Any, bool]] = []
    for option in options:
        if option.get("type") == "array":
            items = option.get("items", {})
            for v, ok in _values(items):
                out.append(([v], ok))
            if "maxItems" in option and items.get("enum"):
                pass
        if "enum" in option:
            out += [(v, True) for v in option["enum"]] + [("zzz", False)]
        if option.get("type") == "integer":
            if "minimum" in option:
                out += [(option["minimum"], True), (option["minimum"] - 1, False)]
            if "maximum" in option:
                out += [(option["maximum"], True), (option["maximum"] + 1, False)]
            if "exclusiveMinimum" in option:
                out += [(option["exclusiveMinimum"], False), (option["exclusiveMinimum"] + 1, True)]
            if "exclusiveMaximum" in option:
                out += [(option["exclusiveMaximum"], False), (option["exclusiveMaximum"] - 1, True)]
        if option.get("type") == "string" and "pattern" in option:
            out.append(("!!bad value!!", False))
        if option.get("type") == "string" and option.get("format") in ("uuid", "date", "date-time"):
            out.append(("2026-13-45", False) if option["format"] != "uuid" else ("nope", False))
        if option.get("type") == "string" and "maxLength" in option and "pattern" in option:
            out.append(("9" * (option["maxLength"] + 1), False))
        if option.get("type") == "string" and "maxLength" in option and "pattern" not in option and "enum" not in option \
                and "format" not in option:
            out += [("a" * option["maxLength"], True), ("a" * (option["maxLength"] + 1), False)]
    return out


def constraint_sweep(probe: Probe) -> None:
    document = probe.document
    for (method, path), (path_parameters, query, body) in probe.bases.items():
        operation = document["paths"][path][method.lower()]
        for parameter in operation.get("parameters", []):
            if parameter["in"] not in ("query", "path"):
                continue
            name = parameter["name"]
            for value, valid in _values(parameter.get("schema", {})):
                p, q = dict(path_parameters), dict(query)
                (p if parameter["in"] == "path" else q)[name] = value
                url = path.format(**p)
                response = probe.http.request(method, url, params=q, json=body)
                named = []
                if response.headers.get("content-type", "").startswith("application/problem+json"):
                    named = [e.get("field") for e in response.json().get("errors") or []]
                label = f"CONSTRAINT {method} {path} {name}={str(value)[:40]!r} (valid={valid})"
                if valid and name in named:
                    FINDINGS.append(f"{label}: refused {response.status_code} {response.text[:300]}")
                if not valid and (response.status_code != 422 or name not in named):
                    FINDINGS.append(f"{label}: {response.status_code} named={named} {response.text[:200]}")
                if response.status_code >= 500:
                    FINDINGS.append(f"{label}: 5xx {response.text[:200]}")
                if response.status_code < 300 or response.status_code == 422:
                    judge(document, method, path, response, label)


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


_OMIT = object()


def body_sweep(probe: Probe) -> None:
    document = probe.document
    for (method, path), (path_parameters, query, body) in probe.bases.items():
        if not isinstance(body, dict):
            continue
        operation = document["paths"][path][method.lower()]
        schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        if not schema:
            continue
        schema = _resolve(document, schema)
        if "anyOf" in schema:
            schema = _resolve(document, next(o for o in schema["anyOf"] if o.get("type") != "null"))
        for name, prop in (schema.get("properties") or {}).items():
            prop = _resolve(document, prop)
            options = [_resolve(document, o) for o in prop.get("anyOf", [prop]) if o.get("type") != "null"]
            values: list[tuple[Any, bool]] = []
            for option in options:
                values += _values(option)
                if option.get("type") == "array" and "maxItems" in option:
                    item = _resolve(document, option.get("items", {}))
                    sample = (body.get(name) or [None])[0] if isinstance(body.get(name), list) else None
                    if sample is None and item.get("enum"):
                        sample = item["enum"][0]
                    if sample is not None and not option.get("uniqueItems"):
                        values += [([sample] * option["maxItems"], True), ([sample] * (option["maxItems"] + 1), False)]
                    elif sample is not None and isinstance(sample, str):
                        values += [([f"{sample[:20]}{i}" for i in range(option["maxItems"])], True),
                                   ([f"{sample[:20]}{i}" for i in range(option["maxItems"] + 1)], False)]
                if option.get("type") == "string" and "maxLength" in option and "enum" not in option and \
                        "pattern" in option:
                    pass
            nullable = any(o.get("type") == "null" for o in prop.get("anyOf", [prop]))
            values.append((None, nullable))
            values.append((_OMIT, name not in schema.get("required", [])))
            for value, valid in values:
                sent = dict(body) | {name: value}
                if value is _OMIT:
                    sent.pop(name)
                response = probe.http.request(method, path.format(**path_parameters), params=query, json=sent)
                named = []
                if response.headers.get("content-type", "").startswith("application/problem+json"):
                    named = [e.get("field") for e in response.json().get("errors") or []]
                hit = [f for f in named if f == name or str(f).startswith(name + ".")]
                label = f"BODY {method} {path} {name}={str(value)[:40]!r}.. (valid={valid})"
                if valid and hit:
                    FINDINGS.append(f"{label}: refused {response.status_code} {response.text[:300]}")
                if not valid and not hit:
                    FINDINGS.append(f"{label}: {response.status_code} named={named} {response.text[:200]}")
                if response.status_code >= 500:
                    FINDINGS.append(f"{label}: 5xx")


def door_sweep(probe: Probe, issuer: Any) -> None:
    """Each operation: without a token, Accept admitting nothing, unknown parameter, OPTIONS, a method not
    answered, a trailing slash, wrong content type, other organiser."""
    document = probe.document
    other = issuer.mint(roles=["platform", "principal", "organiser_admin", "ops"], organisers=["2888"],
                        school_units=["28880011"], subject="x", client_id="platform-x", ttl_seconds=3600)
    for path, item in document["paths"].items():
        if path == "/readyz":
            continue
        concrete = path
        for part in [p for p in path.split("/") if p.startswith("{")]:
            name = part[1:-1]
            value = {"organiser_id": ORGANISER, "school_unit_code": "29990011", "round": "1", "version": "1"}.get(
                name, str(uuid.uuid4()))
            concrete = concrete.replace(part, value)
        documented_methods = [m.upper() for m in item if m in ("get", "post", "put", "patch", "delete")]
        for method in documented_methods:
            label = f"{method} {path}"
            kwargs: dict[str, Any] = {}
            if method in ("POST", "PUT", "PATCH"):
                kwargs["json"] = {}
            response = httpx.request(method, probe.url + concrete, **kwargs)
            judge(document, method, path, response, label + " no token")
            response = probe.http.request(method, concrete, headers={"Accept": "image/png"}, **kwargs)
            judge(document, method, path, response, label + " Accept image/png")
            response = probe.http.request(method, concrete, params={"zzz": "1"}, **kwargs)
            judge(document, method, path, response, label + " unknown param")
            response = probe.http.request(method, concrete, headers={"Authorization": f"Bearer {other}"}, **kwargs)
            judge(document, method, path, response, label + " other organiser")
            if method in ("POST", "PUT", "PATCH"):
                response = probe.http.request(method, concrete, content=b"{}", headers={"Content-Type": "text/plain"})
                judge(document, method, path, response, label + " text/plain")
                response = probe.http.request(method, concrete, content=b"{" + b" " * (5 * 2**20) + b"}",
                                              headers={"Content-Type": "application/json"})
                judge(document, method, path, response, label + " 5 MiB")
        response = probe.http.request("OPTIONS", concrete)
        FINDINGS.append(f"INFO OPTIONS {path}: {response.status_code} allow={response.headers.get('allow')} "
                        f"ct={response.headers.get('content-type')}")
        for method in ("PUT", "DELETE", "PATCH", "POST", "GET"):
            if method not in documented_methods:
                response = probe.http.request(method, concrete)
                allow = response.headers.get("allow")
                if response.status_code != 405 or not allow:
                    FINDINGS.append(f"{method} {path} (not documented): {response.status_code} allow={allow}")
                else:
                    listed = {m.strip() for m in allow.split(",")}
                    expected = set(documented_methods) | ({"HEAD"} if "GET" in documented_methods else set())
                    if listed != expected:
                        FINDINGS.append(f"{method} {path}: Allow {allow} vs documented {sorted(expected)}")
                    if not response.headers.get("content-type", "").startswith("application/problem+json"):
                        FINDINGS.append(f"{method} {path}: 405 as {response.headers.get('content-type')}")
                break
        response = probe.http.request(documented_methods[0], concrete + "/")
        FINDINGS.append(f"INFO {documented_methods[0]} {path}/: {response.status_code} "
                        f"loc={response.headers.get('location')} ct={response.headers.get('content-type')}")
    ids = [op.get("operationId") for item in document["paths"].values() for op in item.values()
           if isinstance(op, dict)]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates or None in ids:
        FINDINGS.append(f"operationIds: duplicates {duplicates}, missing {ids.count(None)}")
    FINDINGS.append("INFO operationIds: " + ", ".join(sorted(map(str, ids))))


def rich_events() -> list[Any]:
    from test_hostile_round13 import event, organiser_events

    from styrkedja_contracts import forecast_id_for
    unit = "29990011"
    out = organiser_events((ORGANISER,), unit, "p29")
    kinds = ["extra_adjustment", "special_support", "investigation", "action_programme"]
    statuses = ["proposed", "decided", "in_progress", "evaluated", "closed"]
    for n in range(30):
        student = dict(organiser_id=ORGANISER, school_unit_code=unit, group_id="7A", student_id=f"s-p29-{n}", year=7,
                       subject_code=["GRGRMAT01", "GRGRSVE01"][n % 2], gender=["female", "male", "unknown"][n % 3])
        for year, term, value in (("2025/26", "VT", "A"), ("2026/27", "HT", "ABCDEF"[n % 6])):
            out.append(event("se.styrkedja.assessment.published.v1", assessment_id=str(uuid.uuid4()), revision=1,
                             value=value, unmet_criteria=["T"] if value == "F" else [], round=1 + n % 4,
                             kind=["assessment", "written_report", "term_grade"][n % 3],
                             school_year=year, term=term, assessed_on="2026-10-01" if term == "HT" else "2026-04-01",
                             teacher_id=f"t-{n % 3}", **student))
        forecast_id = forecast_id_for(ORGANISER, student["student_id"], student["subject_code"], "2026/27", "HT")
        out.append(event("se.styrkedja.forecast.submitted.v1", forecast_id=str(forecast_id), school_year="2026/27",
                         term="HT", value=["NOT_REACHED", "ACCEPTABLE", "MORE_THAN_ACCEPTABLE"][n % 3],
                         teacher_id=f"t-{n % 3}", **student))
        if n % 2:
            kind = kinds[n % 4]
            out.append(event("se.styrkedja.support.intervention_recorded.v1", intervention_id=str(uuid.uuid4()),
                             kind=kind, status=statuses[n % 5],
                             investigation_id=None if kind != "action_programme" else str(uuid.uuid4()),
                             # an evaluated (or closed) intervention names its outcome (`evaluated_needs_outcome`)
                             **({"evaluation_outcome": "better"} if statuses[n % 5] in ("evaluated", "closed") else {}),
                             **{k: v for k, v in student.items() if k not in ("year", "gender")}))
    out.append(event("se.styrkedja.plan.published.v1", plan_id=str(uuid.uuid4()), organiser_id=ORGANISER,
                     school_unit_code=unit, group_id="7A"))
    return out


@pytest.mark.parametrize("running", ["assessment", "forecast", "lika", "reporting"], indirect=True)
def test_sweep(running, token_issuer):
    name, service = running
    probe = Probe(name, service, token_issuer)
    if name == "reporting":
        from test_hostile_round13 import feed

        try:
            asyncio.run(feed(service.database_url, rich_events()))
        except Exception as error:
            FINDINGS.append(f"feed: {error!r}"[:2000])
    flow = {"assessment": lambda c: assessment_flow(c, 20), "forecast": lambda c: forecast_flow(c, 20),
            "lika": lika_flow, "reporting": reporting_flow}
    try:
        flow[name](probe)
    except AssertionError as error:
        FINDINGS.append(f"flow stopped: {error}"[:2000])
    FINDINGS.extend(f"CONFORMANCE {w[:600]}" for w in probe.wrong)
    if name == "reporting":
        for roles in (["politician"], ["principal"], ["area_manager"], ["teacher"]):
            token = token_issuer.mint(roles=roles, organisers=[ORGANISER], school_units=["29990011"], areas=["area-p29"],
                                      groups=["29990011/7A"], subject="t-1", client_id="x", ttl_seconds=3600)
            for (method, path), (pp, q, _body) in list(probe.bases.items()):
                if method != "GET":
                    continue
                r = probe.http.request(method, path.format(**pp), params=q,
                                       headers={"Authorization": f"Bearer {token}"})
                judge(probe.document, method, path, r, f"{method} {path} as {roles}")
                FINDINGS.append(f"INFO ROLE {roles} {path} {r.status_code} {r.text[:150]}")
    constraint_sweep(probe)
    body_sweep(probe)
    door_sweep(probe, token_issuer)
    out = Path(os.environ.get("CAMPAIGN_OUT", "/tmp/styrkedja-campaign29"))
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.txt").write_text("\n".join(FINDINGS))
    print(json.dumps(len(FINDINGS)))
