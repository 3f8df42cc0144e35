"""One example request body for each write operation of a service, in its OpenAPI document.

Each service keeps its examples in one file, `request_examples.json` in its package, keyed by the operation's id
(tests/openapi_operation_ids.json): the document's `example` of the operation's JSON body is that entry, and nothing
else writes one. A document without examples left schemathesis' examples phase and a newcomer reading /docs with
nothing to start from (round 31 campaign). tests/test_openapi_round31.py validates each entry against the operation's
own schema and posts it to the service, so an example that drifts from a rule fails there, not in a client.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

FILE = "request_examples.json"


def load_request_examples(package: str) -> dict[str, Any]:
    """The examples of the service package `package` (`styrkedja_lika`), by operation id; none if it has no file."""
    found = resources.files(package).joinpath(FILE)
    if not found.is_file():
        return {}
    examples = json.loads(found.read_text(encoding="utf-8"))
    if not isinstance(examples, dict):
        raise ValueError(f"{package}/{FILE}: an object of operation ids expected")
    return examples


def document_examples(openapi: dict[str, Any], examples: Mapping[str, Any]) -> dict[str, Any]:
    """Each operation named in `examples` gets its entry as its JSON body's `example`. An entry naming no operation
    with a JSON body is an error at the document's first build: a renamed operation would otherwise lose its example
    silently."""
    placed: set[str] = set()
    for path_item in openapi.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or operation.get("operationId") not in examples:
                continue
            media = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if media is not None:
                media["example"] = examples[operation["operationId"]]
                placed.add(operation["operationId"])
    unplaced = sorted(set(examples) - placed)
    if unplaced:
        raise ValueError(f"request examples for no operation with a JSON body: {', '.join(unplaced)}")
    return openapi
