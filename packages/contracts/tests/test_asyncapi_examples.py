"""Every example event validates against its message in the generated AsyncAPI document (the payload a client
generated from asyncapi.yaml checks: the envelope with the type's `data` schema, by JSON Schema alone), and a
changed example does not."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
import yaml

from styrkedja_contracts import EVENT_MODELS
from styrkedja_contracts.examples import example_bytes
from styrkedja_contracts.export import DEFAULT_ROOT

DOCUMENT = yaml.safe_load((DEFAULT_ROOT / "asyncapi.yaml").read_text())
MESSAGES = {m["name"]: key for key, m in DOCUMENT["components"]["messages"].items()}


def payload_validator(event_type: str) -> jsonschema.Draft202012Validator:
    schema: dict[str, Any] = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                              "components": DOCUMENT["components"],
                              "$ref": f"#/components/messages/{MESSAGES[event_type]}/payload"}
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


@pytest.mark.parametrize("event_type", sorted(EVENT_MODELS))
def test_every_example_validates_against_its_asyncapi_message(event_type: str) -> None:
    example = json.loads(example_bytes(event_type))
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
              for e in payload_validator(event_type).iter_errors(example)]
    assert errors == []


def test_the_message_payload_refuses_another_type_and_bad_data() -> None:
    event_type = "se.styrkedja.assessment.published.v1"
    example = json.loads(example_bytes(event_type))
    validator = payload_validator(event_type)
    assert not validator.is_valid(example | {"type": "se.styrkedja.forecast.submitted.v1"})
    assert not validator.is_valid(example | {"data": example["data"] | {"year": "7"}})
    assert not validator.is_valid({k: v for k, v in example.items() if k != "specversion"})
