"""One rule for integers at every door of the four services (leftover of round 27): a JSON body's integer is strict
— `7`, never `7.0`, `7e0`, `"7"` or `true` (`int_type` naming the field) — as the events' contracts take integers, and
a query or path integer is ASCII digits (`integer_format`, `styrkedja_kit.parameters`). JSON Schema's
`type: integer` counts 7.0 as an integer, so the OpenAPI documents say the rule in words: at each integer field of a
body and once at the top. Failed before: no door said so (a client generated from the document that wrote `7.0`
met a 422 the document did not announce). The audit part walks every operation's body models and parameters, so a
new door with a lax integer fails here."""

from __future__ import annotations

import importlib
import types
import typing
from typing import Any

import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from styrkedja_kit.parameters import BODY_INTEGER, BODY_INTEGERS

SERVICES = {"assessment": "AssessmentSettings", "forecast": "ForecastSettings", "lika": "LikaSettings",
            "reporting": "ReportingSettings"}
NOT_AN_INTEGER = {"int_type", "int_parsing", "int_from_float"}


def _app(service: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("STYRKEDJA_AUTH_ISSUER", "http://127.0.0.1:9")
    settings = getattr(importlib.import_module(f"styrkedja_{service}.settings"), SERVICES[service])
    return importlib.import_module(f"styrkedja_{service}.main").create_app(settings())


def _routes(routes: Any) -> typing.Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        inner = getattr(route, "original_router", None) or getattr(route, "router", None)
        if inner is not None and not isinstance(route, APIRoute):
            yield from _routes(inner.routes)


def _integer(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _integer(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(_integer(a) for a in typing.get_args(annotation) if a is not type(None))
    return annotation is int


def _models(annotation: Any, seen: set[type]) -> typing.Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation not in seen:
            seen.add(annotation)
            yield annotation
            for field in annotation.model_fields.values():
                yield from _models(field.annotation, seen)
        return
    for argument in typing.get_args(annotation):
        yield from _models(argument, seen)


def _dependants(dependant: Any) -> typing.Iterator[Any]:
    yield dependant
    for inner in dependant.dependencies:
        yield from _dependants(inner)


@pytest.mark.parametrize("service", list(SERVICES))
def test_every_body_integer_is_strict_and_every_document_says_so(service: str, monkeypatch) -> None:
    app = _app(service, monkeypatch)
    bodies: set[type] = set()
    for route in _routes(app.routes):
        for dependant in _dependants(route.dependant):
            for body in dependant.body_params:
                list(_models(body.field_info.annotation, bodies))
    lax = []
    for model in sorted(bodies, key=lambda m: m.__name__):
        for name, field in model.model_fields.items():
            if not _integer(field.annotation):
                continue
            key = field.alias or name
            for odd in (7.0, 7e0, "7", True):
                try:
                    model.model_validate({key: odd})
                    refused = False
                except ValidationError as error:
                    refused = any(e["loc"][:1] == (key,) and e["type"] in NOT_AN_INTEGER for e in error.errors())
                if not refused:
                    lax.append(f"{model.__name__}.{key} took {odd!r}")
    assert bodies and lax == []

    document = app.openapi()
    assert BODY_INTEGERS in document["info"]["description"]
    unsaid = []
    for name, schema in document["components"]["schemas"].items():
        for prop_name, prop in schema.get("properties", {}).items():
            kinds = {prop.get("type"), *(s.get("type") for s in prop.get("anyOf", []))}
            if "integer" in kinds and BODY_INTEGER not in prop.get("description", ""):
                unsaid.append(f"{name}.{prop_name}")
    assert unsaid == []


@pytest.mark.parametrize("service", list(SERVICES))
def test_every_query_and_path_integer_is_read_as_ascii_digits(service: str, monkeypatch) -> None:
    """The kit's strict parameters judge every integer parameter of every operation (`7.0` is `integer_format`): the
    document says so at each one."""
    document = _app(service, monkeypatch).openapi()
    unsaid = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                schema = parameter.get("schema", {})
                kinds = {schema.get("type"), *(s.get("type") for s in schema.get("anyOf", []))}
                if "integer" in kinds and "ASCII digits only" not in parameter.get("description", ""):
                    unsaid.append(f"{method.upper()} {path} {parameter['name']}")
    assert unsaid == []
