"""Directory read API: the tree under an organiser, one unit with its children, roster sizes; and
the directory write API (platform clients, for their own organisers).

Access: the tree and units for any reading role of that organiser (not the public); roster sizes
(student counts) per unit for every role that reads figures at that level (the politician at area and
organiser level of its organisers, the public at organiser level of any), rows narrowed to the
reader's reach and, at a level suppressed for the reader, withheld like every figure (a size below N
and enough else that it cannot be worked out from any size or total the reader sees: one decision
over the organiser's levels, `disclose.py`); writes need the organisation write grant for every organiser they touch (403, nothing stored);
removals reach what `/held` lists: a platform client's own entities, the organiser admin's all (`rules.removed_by`).

The tree, a unit and the roster sizes are kept per state version and reader class (`access.answers`):
the directory changes only in applied batches, which move the state version. `/held` is never kept
(it reads what the write API itself stored, outside any batch); it lists a platform client the entities it wrote,
the organiser admin all of its organiser's (`rules.held_by`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query, Request, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_kit.app import runtime_of
from styrkedja_kit.auth import (
    AccessDenied,
    Principal,
    Role,
    Write,
    authorize,
    authorize_read,
    authorize_write,
    may_read,
    may_write,
    readable_levels,
    require_write,
)
from styrkedja_kit.auth import Level as AuthLevel
from styrkedja_kit.days import school_today
from styrkedja_kit.inputs import DateParam, OrganiserIdParam, SchoolUnitCodeParam
from styrkedja_kit.problems import Problem, length_miscounted, validation_errors
from styrkedja_kit.rules import RuleViolation

from ..access.answers import keep_answer_of
from ..access.disclosure import Reason, suppressed_levels
from ..access.guard import disclosure_rules_of
from ..access.scope import node_from, node_of_unit, placements_of, reader_of
from ..freshness import set_freshness
from ..params import GROUP_CODE_RULE, UnitIdParam, unit_at_level
from ..results.rules import GROUP_SEPARATOR
from . import idempotency
from .disclose import roster_withheld, size_shown
from .queries import units_of
from .rosters import roster_sizes_on
from .rules import held_by, removed_by, tree_parents, writer_of
from .writes import (
    MAX_ITEMS,
    MODELS,
    ChangeBatch,
    ChangeSummary,
    HeldEntities,
    RemovalBatch,
    held_entities,
    remove_sources,
    write_changes,
)

router = APIRouter(prefix="/v1/directory", tags=["directory"])
_READERS = (Role.ORGANISER_ADMIN, Role.AREA_MANAGER, Role.PRINCIPAL, Role.TEACHER, Role.POLITICIAN)


def _own_organiser(principal: Principal, organiser_id: str) -> None:
    if organiser_id not in principal.organisers:
        raise AccessDenied("organiser_id", "read_scope", "this token may not read this organiser")

UnitType = Literal["organiser", "area", "school_unit", "group"]


class Unit(BaseModel):
    unit_type: UnitType
    unit_id: str
    organiser_id: str
    parent_id: str | None
    name: str | None
    school_unit_code: str | None = None
    year: int | None = None
    roster_size: int | None = None  # as the source reported it; see /roster-sizes for the counted one
    children: list[Unit] = []


class RosterSize(BaseModel):
    level: str
    unit_id: str
    students: int | None  # null when withheld (`reason`)
    reason: Reason = Reason.EXISTS


def _unit(row, suppressed: frozenset[AuthLevel] = frozenset(), readable: Callable[[Any], bool] | None = None) -> Unit:
    """A unit as the reader sees it: the source's roster size (a count of students, of groups and school
    units) only at a level the reader's role does not suppress — elsewhere null (`/roster-sizes` gives the
    size as the one decision has it), so a politician never reads a group's size of 3 off the tree — and only
    of a unit the reader may read (`readable`): a teacher read every group's size of the organiser off the tree,
    which `/roster-sizes` gives it for its own groups alone (round 23a)."""
    hidden = AuthLevel[row.unit_type.upper()] in suppressed or (readable is not None and not readable(row))
    return Unit(unit_type=row.unit_type, unit_id=row.unit_id, organiser_id=row.organiser_id,
                parent_id=row.parent_id, name=row.name, school_unit_code=row.school_unit_code, year=row.year,
                roster_size=None if hidden else row.roster_size)


def _tree(rows: Sequence[Any], suppressed: frozenset[AuthLevel] = frozenset(),
          readable: Callable[[Any], bool] | None = None) -> list[Unit]:
    """Nest the units: groups under their school unit (by code), the rest under their parent."""
    nodes = {(row.unit_type, row.scope, row.unit_id): _unit(row, suppressed, readable) for row in rows}
    by_id: dict[tuple[str, str | None], Unit] = {
        (u.unit_type, u.unit_id): u for (kind, scope, _), u in nodes.items() if kind != "group"}
    school_by_code = {u.school_unit_code: u for u in nodes.values() if u.unit_type == "school_unit"}
    parents: dict[int, Unit | None] = {}
    for (kind, scope, _), unit in nodes.items():
        if kind == "group":
            parent = school_by_code.get(scope)
        elif kind == "school_unit":
            parent = by_id.get(("area", unit.parent_id)) or by_id.get(("organiser", unit.parent_id))
        elif kind == "area":
            parent = by_id.get(("organiser", unit.parent_id)) or by_id.get(("area", unit.parent_id))
        else:
            parent = None
        parents[id(unit)] = parent
    hung = tree_parents(parents, list(nodes.values()))
    roots: list[Unit] = []
    for unit in nodes.values():
        parent = hung[id(unit)]
        (parent.children if parent is not None else roots).append(unit)
    return roots


@router.get("/organisers/{organiser_id}/tree", response_model=list[Unit])
async def tree(*, request: Request, response: Response,
               organiser_id: Annotated[OrganiserIdParam, Path()],
               principal: Principal = authorize(*_READERS, description="reads the directory")) -> list[Unit]:
    """Organiser → areas → school units → groups. Units whose parent is not known (yet), or whose parents lead back
    to themselves, are roots, and so is a unit that would hang more than 32 levels deep (areas under areas)."""
    _own_organiser(principal, organiser_id)
    async with runtime_of(request).db.sessions() as session:
        # the class as every read of this family decides it (the reader completed from the directory, as the roster
        # sizes do): the cache learns one class per reader and family, and a class from the token alone found the
        # roster sizes kept for another reader of that token's scope (round 23a)
        reader = await reader_of(session, principal)
        keep_answer_of(request, reader)
        rows = await units_of(session, organiser_id)
        readable = await _readable_units(session, reader, rows)
        await set_freshness(session, response, request)
    return _tree(rows, suppressed_levels(principal), readable)


async def _readable_units(session: AsyncSession, reader: Principal, rows: Sequence[Any]) -> Callable[[Any], bool]:
    """Whether the reader may read a unit of the tree at its own level and place (its roster size shown)."""
    placed = await placements_of(session, [row.school_unit_code for row in rows if row.school_unit_code])

    def readable(row: Any) -> bool:
        return may_read(reader, node_of_unit(AuthLevel[row.unit_type.upper()], row.organiser_id, placed,
                                             area_id=row.unit_id, school_unit_code=row.school_unit_code,
                                             group_id=row.unit_id))
    return readable


@router.get("/units/{unit_id}", response_model=Unit)
async def unit(*, request: Request, response: Response, unit_id: Annotated[UnitIdParam, Path()], organiser_id: Annotated[OrganiserIdParam, Query()],
        unit_type: UnitType = "school_unit",
        school_unit_code: SchoolUnitCodeParam | None = Query(
            None, description=f"Required for a group, which its school unit code and its id name (`{GROUP_CODE_RULE}`)."),
        principal: Principal = authorize(*_READERS, description="reads the directory")) -> Unit:
    """One unit with its children (a group is named with its school unit code)."""
    _own_organiser(principal, organiser_id)
    unit_id = unit_at_level(unit_type, unit_id) or unit_id
    if unit_type == "group" and school_unit_code is None:
        # the rules across a read's parameters are the kit's `RuleViolation`, each by a name its document says: a
        # problem of its own (`required`, said nowhere; round 32's leftover) was the one read that wrote its own
        raise RuleViolation("school_unit_code", GROUP_CODE_RULE, "a group is named by its school unit code and its id")
    async with runtime_of(request).db.sessions() as session:
        reader = await reader_of(session, principal)
        keep_answer_of(request, reader)  # as the tree (a 404 is never kept)
        rows = await units_of(session, organiser_id)
        readable = await _readable_units(session, reader, rows)
        await set_freshness(session, response, request)
    scope = school_unit_code if unit_type == "group" else ""

    def find(units: list[Unit]) -> Unit | None:
        for u in units:
            if u.unit_type == unit_type and u.unit_id == unit_id and (
                    unit_type != "group" or u.school_unit_code == scope):
                return u
            hit = find(u.children)
            if hit:
                return hit
        return None

    found = find(_tree(rows, suppressed_levels(principal), readable))
    if found is None:
        raise Problem(404, "Not found", f"no {unit_type} {unit_id!r} under organiser {organiser_id}",
                      [{"field": "unit_id", "rule": "not_found",
                        "message": f"no {unit_type} of this id under the organiser (that the token may read)"}])
    for child in found.children:
        child.children = []
    return found


@router.get("/roster-sizes", response_model=list[RosterSize])
async def roster_sizes(*, request: Request, response: Response,
                       level: Literal["group", "school_unit", "area", "organiser"],
                       organiser_id: Annotated[OrganiserIdParam, Query()],
                       on: DateParam | None = None,
                       unit_id: UnitIdParam | None = Query(None),
                       principal: Principal = authorize_read()) -> list[RosterSize]:
    """Students in the rosters (group memberships) on a date (today by default), per unit (only the
    units the token reads at that level). At a level suppressed for the reader, a size of fewer than
    N students is `null` with `reason` OMITTED_DUE_TO_BASED_ON_FEW_PUPILS, and so is enough else
    (decided over the organiser's units at every level, so every reader of a class, and the
    figures' coverage, see the same)."""
    auth_level = AuthLevel[level.upper()]
    unit_id = unit_at_level(level, unit_id)
    async with runtime_of(request).db.snapshot() as session:  # the sizes and their decision: one state
        reader = await reader_of(session, principal)
        if auth_level not in readable_levels(reader):
            raise AccessDenied("level", "read_scope", f"this token may not read at {level} level")
        if organiser_id not in reader.organisers and not reader.has(Role.PUBLIC):
            raise AccessDenied("organiser_id", "read_scope", "this token may not read this organiser")
        # the rows: the reader's reach (completed from the directory), its roles' suppressed levels, the day
        keep_answer_of(request, reader)
        day = on or school_today()
        sizes = await roster_sizes_on(session, level, organiser_id, day)
        rows = sorted((u, n) for u, n in sizes.items() if u and (level != "organiser" or u == organiser_id))
        await set_freshness(session, response, request)
        codes = [u.split(GROUP_SEPARATOR, 1)[0] for u, _ in rows] if level in ("group", "school_unit") else []
        placed = await placements_of(session, codes)
        rules = disclosure_rules_of(request)
        # the one decision over the organiser's units at every level (`disclose.py`)
        hidden = await roster_withheld(session, level, organiser_id, [u for u, _ in rows], day,
                                       suppressed_levels(principal), rules)
    out = []
    for u, n in rows:
        if (unit_id is not None and u != unit_id) or not may_read(reader, node_from(auth_level, organiser_id, u, placed)):
            continue
        withheld = u in hidden
        out.append(RosterSize(level=level, unit_id=u, students=size_shown(n, withheld, auth_level, principal, rules),
                              reason=Reason.OMITTED_DUE_TO_BASED_ON_FEW_PUPILS if withheld else Reason.EXISTS))
    return out


def _mended(error: Mapping[str, Any]) -> str:
    """`.<field>` of a rule across an item's fields (a contract's `events.rules.refuse`: its context names the field
    to mend), else nothing: the item's data is named."""
    field = (error.get("ctx") or {}).get("field")
    return f".{field}" if isinstance(field, str) and field else ""


#: the optional `Idempotency-Key` header of the directory writes (`idempotency.py`)
IdempotencyKey = Annotated[str | None, Header(
    alias=idempotency.HEADER, description="A key naming this request (1-200 visible ASCII characters): sent again "
    "with the same body, the first attempt's outcome is answered (header `Idempotent-Replayed: true`) and nothing "
    f"applied again; with another body, 422 (rule `idempotency_key_reused`); while a request with it is still being "
    f"processed, 409 (rule `idempotency_key_in_progress`, with `Retry-After`). Kept {idempotency.KEPT_HOURS} hours.",
    # documented here, checked by the route (`idempotency.checked_key`: a 422 saying the rule in words)
    json_schema_extra={"pattern": idempotency.KEY_PATTERN, "maxLength": idempotency.MAX_KEY_CHARS})]


@router.post("/changes", response_model=ChangeSummary)
async def write_directory_changes(request: Request, response: Response, batch: ChangeBatch,
                                  principal: Principal = authorize_write(Write.ORGANISATION),
                                  idempotency_key: IdempotencyKey = None) -> ChangeSummary:
    """Directory changes from a platform or the SS 12000 importer (up to 5,000 per request). Each
    change that differs from what was published before becomes an organisation event; the same
    data sent again changes nothing. All or nothing: one invalid item refuses the batch. A school unit whose code a
    live school unit of another organiser's directory holds, one this token may not write, is 409 (rule
    `school_unit_code_held`, naming the item's `school_unit_code`): a school is re-placed under another organiser only
    after the one holding it removed it, or by a writer of both. With an
    `Idempotency-Key`, a request sent again (its answer lost) is answered as the first time, not applied again."""
    key = idempotency.checked_key(idempotency_key)
    items, errors = [], []
    for n, change in enumerate(batch.items):
        try:
            items.append((MODELS[change.type].model_validate(change.data), change.source_id))
        except ValidationError as error:
            # located in the body as the kit reads a location (its leading part says where: a key of the data
            # named `query` or `path` is that key, not a query or path parameter left out of the name); a rule of the
            # whole item (a model validator's: `year` on a school unit) names the field it says to mend, which the
            # contract's `Broken` carries in the error's context (round 32: it named `items.N.data` alone)
            found = [e for e in error.errors() if not length_miscounted(e)]
            errors += [{**e, "field": f"items.{n}.data" + (f".{e['field']}" if raw["loc"] else _mended(raw))}
                       for raw, e in zip(found, validation_errors([{**e, "loc": ("body", *e["loc"])} for e in found]),
                                         strict=True)]
    if errors:
        # every error: the problem lists the first 1,000 and says how many more (`problems.listed`, as every batch
        # door); cut at 100 here, a full batch's refusal named 100 of its 5,000 and did not say there were more
        raise Problem(422, "Invalid request", "; ".join(f"{e['field']}: {e['message']}" for e in errors[:10]),
                      errors)
    for n, (item, _) in enumerate(items):  # every organiser written for must be the token's: else nothing is stored
        require_write(principal, Write.ORGANISATION, getattr(item, "organiser_id", None),
                      field=f"items.{n}.data.organiser_id")
    writable = {o for o in principal.organisers if may_write(principal, Write.ORGANISATION, o)}
    runtime = runtime_of(request)
    outbox = runtime.outbox
    assert outbox is not None
    async with runtime.db.sessions.begin() as session:
        return await _once_per_key(session, principal, key, "changes", batch, response,
                                   lambda: write_changes(session, outbox, items, writer=writer_of(principal),
                                                         writes_for=writable))


@router.post("/removals", response_model=ChangeSummary)
async def remove_directory_sources(request: Request, response: Response, batch: RemovalBatch,
                                   principal: Principal = authorize(Role.PLATFORM, Role.ORGANISER_ADMIN,
                                                                    description="removes directory entities"),
                                   idempotency_key: IdempotencyKey = None) -> ChangeSummary:
    """Remove every directory entity published from these source ids (e.g. SS 12000 deletedEntities)
    or named by key (what a full import no longer found in its source), of the token's organisers: a platform
    client the entities it sent last (those `/held` lists it), the organiser admin any of its organiser's, also
    those written before writers were recorded (`rules.removed_by`); another client's are left as they are, not
    counted. An entity named of an organiser outside that reach is 403 naming it, nothing removed.
    `Idempotency-Key` as for `/changes`."""
    key = idempotency.checked_key(idempotency_key)
    for n, entity in enumerate(batch.entities):
        removed_by(principal, entity.organiser_id, field=f"entities.{n}.organiser_id")
    removable = {organiser: removed_by(principal, organiser) for organiser in principal.organisers}
    runtime = runtime_of(request)
    outbox = runtime.outbox
    assert outbox is not None
    async with runtime.db.sessions.begin() as session:
        return await _once_per_key(session, principal, key, "removals", batch, response,
                                   lambda: remove_sources(session, outbox, batch, writer=writer_of(principal),
                                                          removable=removable))


async def _once_per_key(session: AsyncSession, principal: Principal, key: str | None, endpoint: str,
                        batch: BaseModel, response: Response, write: Callable[[], Awaitable[ChangeSummary]]
                        ) -> ChangeSummary:
    """`write` in `session`'s transaction, once per client and `Idempotency-Key` (`idempotency.py`); without a key,
    simply `write`."""
    if key is None:
        return await write()
    client, digest = idempotency.client_of(principal), idempotency.request_hash(endpoint, batch.model_dump(mode="json"))
    stored = await idempotency.stored_outcome(session, client, key, digest)
    if stored is not None:
        response.headers[idempotency.REPLAYED] = "true"
        return ChangeSummary.model_validate(stored)
    summary = await write()
    await idempotency.remember(session, client, key, digest, summary.model_dump(mode="json"))
    return summary


@router.get("/held", response_model=HeldEntities)
async def list_held(*, request: Request, organiser_id: Annotated[OrganiserIdParam, Query()],
                    after: str | None = Query(None, min_length=1, max_length=200),
                    limit: int = Query(MAX_ITEMS, ge=1, le=MAX_ITEMS),
                    principal: Principal = authorize(Role.PLATFORM, Role.ORGANISER_ADMIN,
                                                     description="lists the directory's entities")) -> HeldEntities:
    """What the directory holds for an organiser (live entities by key, with the source id each came
    from), paged by `after` = the previous page's `next_after`: a full import removes what its
    source no longer has. A platform client lists the entities it sent last; the organiser admin all
    of its organiser's (`rules.held_by`)."""
    written_by = held_by(principal, organiser_id)
    async with runtime_of(request).db.sessions() as session:
        return await held_entities(session, organiser_id, after, limit, written_by)
