"""The HTTP routes of a record a platform writes with numbered revisions on the kit's write path
(`styrkedja_kit.writes`): an assessment, a forecast, a plan, a support intervention. One declaration
serves each such record, so that they answer, refuse and are documented alike; the service names its
verbs, bodies, answers and texts.

- `POST {prefix}`: one item; 201, or 200 when it is the same again (nothing stored, no event); where the record has
  no natural key (`keyed`), an optional `Idempotency-Key` header makes a new record's id (`styrkedja_kit.idempotency`);
- `POST {prefix}/batch`: all or nothing, its body parsed and validated in one pass (`json_body`, after
  the token) and answered as the service encoded it (`writes.encoded_batch_answer`: status and bytes);
- `POST {prefix}/{id}/{removal}`: the removal (retraction, withdrawal) as the next revision; its body optional.

The operations keep the names, parameters and documents that hand-written route functions of these
names would have (operation ids, summaries, the id's path parameter): renaming a verb renames the
operation, nothing else does.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, Protocol, TypeVar
from uuid import UUID

from fastapi import APIRouter, Header, Request, Response
from pydantic import BaseModel
from sqlalchemy import Table

from . import idempotency
from .app import runtime_of
from .auth import Principal
from .inputs import json_body, json_body_openapi
from .problems import problem_responses
from .rules import RuleViolation, RuleViolations
from .writes import single_answer

__all__ = ["RecordRoutes", "add_record_routes"]

_Service = TypeVar("_Service")


class _Batch(Protocol):
    items: Sequence[Any]


@dataclass(frozen=True)
class RecordRoutes(Generic[_Service]):
    """What differs between two records' write routes. The verbs are the operations' names as a route
    function's name gives them (`publish` → operation `publish_v1_assessments_post`, summary "Publish")."""

    id_name: str  # the record id's path parameter (`assessment_id`)
    writer: Any  # the token check, a dependency (`authorize_write(Write.ASSESSMENTS)`)
    service: Callable[[Request, Principal], _Service]  # the use cases, for this request and token
    item: type[BaseModel]  # one item's body
    answer: type[BaseModel]  # one item's answer
    batch: type[BaseModel]  # a batch's body (`items`)
    batch_answer: type[BaseModel]  # a batch's answer (`items`, `stored`, `unchanged`)
    removal: type[BaseModel]  # the removal's body (all fields optional: the body may be left out)
    write: str  # the single write's verb (`publish`)
    write_batch: str  # the batch's verb (`publish_batch`)
    remove: str  # the removal's verb, its path's last part too (`retract`)
    same_again: str  # what the single write's 200 means
    batch_same_again: str  # what the batch's 200 means
    batch_doc: str  # the batch operation's description (a docstring: indented lines are dedented)
    remove_doc: str  # the removal operation's description
    #: the use cases: one item (answered as a list of one), a batch (its status and encoded answer), a removal
    store: Callable[[_Service, list[Any]], Awaitable[Sequence[Any]]]
    store_batch: Callable[[_Service, Sequence[Any]], Awaitable[tuple[int, bytes]]]
    take_back: Callable[[_Service, UUID, Any], Awaitable[Any]]
    #: the single write takes an optional `Idempotency-Key` making a new record's id: for a record without a natural
    #: key (a support intervention, a plan), whose new record sent again without its id (a retry of a lost answer)
    #: was a second record and event
    keyed: bool = False
    #: the batch takes an optional `Idempotency-Key` (`idempotency.define_key_table`: the service's table of them): a
    #: retried batch is answered its first answer, not written again
    keys: Table | None = None


#: the optional `Idempotency-Key` header of a keyed record's single write (`idempotency.py`)
IdempotencyKey = Annotated[str | None, Header(
    alias=idempotency.HEADER, description="For a new record (no id in the body): a key naming it (1-200 visible ASCII "
    "characters, e.g. a UUID). Sent again with the same body, the record the first attempt made is answered (200 "
    "`unchanged`, header `Idempotent-Replayed: true`), nothing stored again; with another body, 422 (rule "
    "`idempotency_key_reused`); while a request with it is still being processed, 409 (rule "
    "`idempotency_key_in_progress`, with `Retry-After`). A key names its record for good.",
    # documented here, checked by the route (`idempotency.checked_key`: a 422 saying the rule in words)
    json_schema_extra={"pattern": idempotency.KEY_PATTERN, "maxLength": idempotency.MAX_KEY_CHARS})]

#: the optional `Idempotency-Key` header of a batch (`idempotency.py`)
BatchIdempotencyKey = Annotated[str | None, Header(
    alias=idempotency.HEADER, description="A key naming this batch (1-200 visible ASCII characters, e.g. a UUID): "
    "sent again with the same body, the first attempt's answer is answered again (its status and body, header "
    "`Idempotent-Replayed: true`), nothing stored again; with another body, 422 (rule `idempotency_key_reused`); "
    "while a request with it is still being processed, 409 (rule `idempotency_key_in_progress`, with "
    f"`Retry-After`). Kept {idempotency.KEPT_HOURS} hours. Where the record has no natural key, the key also makes "
    "the ids of the items sent without one.",
    json_schema_extra={"pattern": idempotency.KEY_PATTERN, "maxLength": idempotency.MAX_KEY_CHARS})]

#: the write path's refusals of a keyed new record whose id is stored with other content (or changed or removed since)
_KEY_TAKEN = frozenset({"revision_must_increase", "removed_needs_revision", "removed_for_good"})


async def _keyed_write(routes: RecordRoutes[Any], endpoint: str, item: Any, request: Request, response: Response,
                       principal: Principal, key: str | None) -> Any:
    """The single write, with a new record's id made by its key: the same record again (the write path's `unchanged`)
    when the request is sent again; a 422 naming the header when the key's record holds another body, a 409 while
    another request with the key is being written (`idempotency.py`: the draft's answers)."""
    r = routes
    key = idempotency.checked_key(key)
    if key is None or getattr(item, r.id_name) is not None:  # the id given: the write path already knows a re-send
        return await _single(r, item, request, response, principal)
    # at the revision it names, else its first: stored at another, or with other content, is not this request's
    keyed = item.model_copy(update={r.id_name: idempotency.keyed_id(endpoint, principal, key),
                                    "revision": item.revision or 1})
    claimed = idempotency.claimed.set(idempotency.Claim.of(endpoint, principal, key))
    try:
        answer = await _single(r, keyed, request, response, principal)
    except (RuleViolation, RuleViolations) as error:
        found = error.violations if isinstance(error, RuleViolations) else [error]
        if any(v.field == "revision" and v.rule in _KEY_TAKEN for v in found):
            raise idempotency.reused() from None
        raise
    finally:
        idempotency.claimed.reset(claimed)
    if answer.status == "unchanged":
        response.headers[idempotency.REPLAYED] = "true"
    return answer


async def _keyed_batch(r: RecordRoutes[Any], endpoint: str, request: Request, principal: Principal, batch: _Batch,
                       key: str | None) -> Response:
    """The batch, once per client and `Idempotency-Key` (`idempotency.take_claimed`, in the write's transaction): its
    first answer again when it is sent again, a 422 naming the header for another body under the key, a 409 while a
    request with it is being written. A keyed record's items sent without an id get the key's (`keyed_id` of the key
    and the item's place): the same batch written again — its answer lost before it was kept — is the same records,
    `unchanged`."""
    key = idempotency.checked_key(key)
    items = list(batch.items)
    if key is None:
        status, body = await r.store_batch(r.service(request, principal), items)
        return Response(body, status_code=status, media_type="application/json")
    assert r.keys is not None
    made: set[int] = set()
    if r.keyed:
        for at, item in enumerate(items):
            if getattr(item, r.id_name) is None:
                items[at] = item.model_copy(update={
                    r.id_name: idempotency.keyed_id(endpoint, principal, f"{key}\n{at}"),
                    "revision": item.revision or 1})
                made.add(at)
    found = idempotency.Claim.of(endpoint, principal, key, r.keys, [i.model_dump(mode="json") for i in batch.items])
    claimed = idempotency.claimed.set(found)
    try:
        status, body = await r.store_batch(r.service(request, principal), items)
    except idempotency.Replayed as replayed:
        return Response(replayed.answer, status_code=replayed.status, media_type="application/json",
                        headers={idempotency.REPLAYED: "true"})
    except RuleViolations as error:
        if any(v.field in {f"items.{at}.revision" for at in made} and v.rule in _KEY_TAKEN for v in error.violations):
            raise idempotency.reused() from None
        raise
    finally:
        idempotency.claimed.reset(claimed)
    await idempotency.keep_answer(runtime_of(request).db, found, status, body)
    return Response(body, status_code=status, media_type="application/json")


async def _single(r: RecordRoutes[Any], item: Any, request: Request, response: Response, principal: Principal) -> Any:
    return single_answer(await r.store(r.service(request, principal), [item]), response)


def _param(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=annotation, default=default)


def _named(endpoint: Callable[..., Any], name: str, parameters: list[inspect.Parameter], returns: Any,
           doc: str | None = None) -> Callable[..., Any]:
    """The endpoint as FastAPI reads a route function: its name, its docstring (the description) and its
    signature (parameter names, types and defaults: what is injected, and in which order the dependencies run)."""
    endpoint.__name__ = endpoint.__qualname__ = name
    endpoint.__doc__ = doc
    endpoint.__signature__ = inspect.Signature(parameters, return_annotation=returns)  # type: ignore[attr-defined]
    return endpoint


def add_record_routes(router: APIRouter, routes: RecordRoutes[Any]) -> None:
    """The three write routes of one record on `router` (whose prefix names the record's path)."""
    r = routes

    async def write(item: Any, request: Request, response: Response, principal: Principal,
                    idempotency_key: str | None = None) -> Any:
        if r.keyed:
            return await _keyed_write(r, f"POST {router.prefix}", item, request, response, principal, idempotency_key)
        return await _single(r, item, request, response, principal)

    # the token first, then the body: a request without a valid token is a 401 whatever it sends
    batch_body = json_body(r.batch)

    async def write_batch(request: Request, principal: Principal, batch: _Batch,
                          idempotency_key: str | None = None) -> Response:
        if r.keys is not None:
            return await _keyed_batch(r, f"POST {router.prefix}/batch", request, principal, batch, idempotency_key)
        status, body = await r.store_batch(r.service(request, principal), batch.items)
        return Response(body, status_code=status, media_type="application/json")

    async def take_back(request: Request, body: Any, principal: Principal, **path: UUID) -> Any:
        return await r.take_back(r.service(request, principal), path[r.id_name], body or r.removal())

    router.add_api_route(
        "", _named(write, r.write, [_param("item", r.item), _param("request", Request),
                                    _param("response", Response), _param("principal", Principal, r.writer),
                                    *([_param("idempotency_key", IdempotencyKey, None)] if r.keyed else [])],
                   r.answer),
        methods=["POST"], response_model=r.answer, status_code=201,
        responses={200: {"description": r.same_again, "model": r.answer}, **problem_responses(409)})
    router.add_api_route(
        "/batch", _named(write_batch, r.write_batch, [_param("request", Request),
                                                      _param("principal", Principal, r.writer),
                                                      _param("batch", r.batch, batch_body),
                                                      *([_param("idempotency_key", BatchIdempotencyKey, None)]
                                                        if r.keys is not None else [])], Response,
                                 r.batch_doc),
        methods=["POST"], response_model=r.batch_answer, status_code=201,
        responses={200: {"description": r.batch_same_again, "model": r.batch_answer}, **problem_responses(409)},
        openapi_extra=json_body_openapi(r.batch))
    router.add_api_route(
        f"/{{{r.id_name}}}/{r.remove}",
        _named(take_back, r.remove, [_param(r.id_name, UUID), _param("request", Request),
                                     _param("body", r.removal | None, None),
                                     _param("principal", Principal, r.writer)], r.answer, r.remove_doc),
        methods=["POST"], response_model=r.answer, responses=problem_responses(404, 409))
