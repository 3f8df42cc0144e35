"""What every service's answers carry, said in its OpenAPI document: the response headers the kit's routes and guards
send, and integer bounds written as integers.

Round 29 read each service as a client generated from its document does: a header sent but documented nowhere is
one such a client never exposes (a file's name, a retried write's `Idempotent-Replayed`), and a bound of an
`integer` written `9.0` breaks generators that paste it into their own validation (`@Min(1.0)` does not compile).
Each function is idempotent: the kit builds a document once, the services may post-process it again."""

from __future__ import annotations

from typing import Any

#: an answer in one of these media types is data a client reads; any other success type is a file it saves
_NOT_FILES = ("application/json", "text/plain", "text/html")
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")

CONTENT_DISPOSITION: dict[str, Any] = {
    "description": "With a file (CSV, xlsx), never with JSON: `attachment` and the file's name in `filename` "
                   "(RFC 6266), with `filename*` in UTF-8 too where a service writes one.",
    "schema": {"type": "string"}}
REPLAYED: dict[str, Any] = {
    "description": "`true` when this is the first attempt's answer, answered again for the same `Idempotency-Key` and "
                   "body (nothing was stored again); absent otherwise.",
    "schema": {"type": "string", "enum": ["true"]}}
RETRY_AFTER: dict[str, Any] = {"description": "Seconds to wait before sending it again.", "schema": {"type": "integer"}}
ACCEPT_PATCH: dict[str, Any] = {"description": "Refusing the media type of a PATCH: the one it takes, "
                                               "`application/json` (RFC 5789 §2.2).", "schema": {"type": "string"}}
ACCEPT_ENCODING: dict[str, Any] = {"description": "Refusing a compressed body: `identity`, send it uncompressed "
                                                  "(RFC 7694).", "schema": {"type": "string"}}


def _is_file(media_type: str) -> bool:
    return not (media_type.endswith("json") or media_type.startswith(_NOT_FILES))


def document_headers(openapi: dict[str, Any]) -> dict[str, Any]:
    """The headers the kit sends, on the responses that carry them: `Content-Disposition` on a success answered as a
    file; `Idempotent-Replayed` on the successes and `Retry-After` on the 409 (`idempotency_key_in_progress`) of an
    operation taking an `Idempotency-Key`; `Accept-Encoding` on a 415 (a compressed body) and on a PATCH's
    `Accept-Patch` (`RequestGuard`)."""
    for path_item in openapi.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in _METHODS or not isinstance(operation, dict):
                continue
            responses: dict[str, Any] = operation.get("responses", {})
            keyed = any(p.get("in") == "header" and p.get("name", "").lower() == "idempotency-key"
                        for p in operation.get("parameters", []))
            for status, response in responses.items():
                headers = response.get("headers") or {}
                if status.startswith("2") and any(_is_file(media) for media in response.get("content") or {}):
                    headers.setdefault("Content-Disposition", CONTENT_DISPOSITION)
                if keyed and status.startswith("2"):
                    headers.setdefault("Idempotent-Replayed", REPLAYED)
                if keyed and status == "409":
                    headers.setdefault("Retry-After", RETRY_AFTER)
                if status == "415":
                    headers.setdefault("Accept-Encoding", ACCEPT_ENCODING)
                    if method == "patch":
                        headers.setdefault("Accept-Patch", ACCEPT_PATCH)
                if headers:
                    response["headers"] = headers
    return openapi


_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")


def integer_bounds(node: Any) -> Any:
    """Every bound of an `integer` schema written as an integer: FastAPI's own model of the document types them
    `float`, so pydantic's `le=9` reached every document as `maximum: 9.0`."""
    if isinstance(node, dict):
        if node.get("type") == "integer":
            for key in _BOUNDS:
                value = node.get(key)
                if isinstance(value, float) and value.is_integer():
                    node[key] = int(value)
        for value in node.values():
            integer_bounds(value)
    elif isinstance(node, list):
        for value in node:
            integer_bounds(value)
    return node
