"""Rules of the directory. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from pydantic import BaseModel

from styrkedja_contracts import OrganisationEntityRemovedV1, OrganisationUnitUpsertedV1
from styrkedja_contracts.envelope import MAX_AHEAD_OF_RECORD_MS
from styrkedja_contracts.identifiers import canonical_organiser_id
from styrkedja_kit.auth import AccessDenied, Principal, Role, Write, may_write

Row = dict[str, Any]
#: a unit of the directory's tree (the routes' answer model): judged by identity, its parent given beside it
Node = TypeVar("Node")
_Data = TypeVar("_Data", bound=BaseModel)


#: the longest writer kept (`directory_published.written_by`, as the audit trail keeps a client id)
MAX_WRITER_CHARS = 255


def writer_of(principal: Principal) -> str:
    """Who wrote a directory entity: the token's client id (a platform's OAuth client), else its subject — as a
    platform reads back its own writes elsewhere (`may_read_own_write`)."""
    return (principal.client_id or principal.subject)[:MAX_WRITER_CHARS]


#: `held_by`'s answer for a reader of every entity of the organiser, whoever wrote it
EVERY_WRITER = None


def held_by(principal: Principal, organiser_id: str) -> str | None:
    """Whose entities of the organiser's directory this token may list (`GET /v1/directory/held`): the organiser
    admin of the organiser every entity (`EVERY_WRITER`), also those written before writers were recorded; a
    platform client that writes the organiser's directory only those it wrote (`writer_of`) — the keys and source
    ids of another platform's entities are not its business, and its full import must not remove them (round 23a:
    every platform client was listed the whole directory). A token with both roles has the union (the admin's).
    Anyone else: 403 naming `organiser_id`."""
    return _writers_of(principal, organiser_id, "organiser_id", "read_scope", "list this organiser's directory entities")


def removed_by(principal: Principal, organiser_id: str, field: str = "organiser_id") -> str | None:
    """Whose entities of the organiser's directory this token may remove (`POST /v1/directory/removals`): what it
    may list (`held_by`), by the same rule — a platform client what it wrote (it sent the entity last), the
    organiser admin every entity. Before, any platform client of the organiser removed by source id (or key) what
    another platform client wrote (round 24). An entity written before writers were recorded (0026, no writer) is
    the admin's to remove, as it is the admin's alone to list: which platform sent it is not known, and no platform
    removes another's on a guess; a client that sends it again holds it (`writes.write_changes`) and may then
    remove it. Anyone else: 403 naming `field` (`write_scope`)."""
    return _writers_of(principal, organiser_id, field, "write_scope", "remove this organiser's directory entities")


def _writers_of(principal: Principal, organiser_id: str, field: str, rule: str, doing: str) -> str | None:
    """`held_by` and `removed_by`: one rule of whose entities a token reaches, `EVERY_WRITER` or one writer."""
    if principal.has(Role.ORGANISER_ADMIN) and organiser_id in principal.organisers:
        return EVERY_WRITER
    if may_write(principal, Write.ORGANISATION, organiser_id):
        return writer_of(principal)
    raise AccessDenied(field, rule, f"this token may not {doing} (the organiser admin all of them, a platform "
                                    "client of the organiser those it wrote)")


def organiser_spelt(unit_id: str | None, organiser_id: str) -> str | None:
    """A unit id that spells the event's own organiser (its organiser unit's id, or a parent id naming it) in
    the organiser's kept spelling: a producer that wrote `2120001234` for the organiser `212000-1234` names one
    unit, so the tree's root, the figures' organiser cells and every query name it alike. Other ids as they are
    (an area or a school unit is never spelt as its organiser)."""
    if unit_id is None or unit_id == organiser_id:
        return unit_id
    return organiser_id if canonical_organiser_id(unit_id) == organiser_id else unit_id


def key_in_kept_spelling(organiser_id: str, entity_key: str) -> str:
    """An entity key a client names (a removal's), its unit id in the organiser's kept spelling (`organiser_spelt`):
    the directory holds the organiser's own unit under the kept key since migration 0035, and a client that listed
    `/held` before that upgrade still names the key as it was then."""
    parts = entity_key.split(":", 3)  # unit:<type>:<scope>:<unit id> (`writes.entity_key`), the id last and whole
    if len(parts) != 4 or parts[0] != "unit":
        return entity_key
    kept = organiser_spelt(parts[3], organiser_id)
    return entity_key if kept == parts[3] else ":".join([*parts[:3], cast(str, kept)])


def in_kept_spelling(data: _Data) -> _Data:
    """A directory event's data with the unit ids that spell its organiser in the organiser's kept spelling
    (`organiser_spelt`), as the handler applies them: the write path keys and publishes what the directory will
    hold. It keyed the id as sent, so `2120001234` and `212000-1234` were two entities of one unit (round 26)."""
    if isinstance(data, OrganisationUnitUpsertedV1):
        update = {"unit_id": organiser_spelt(data.unit_id, data.organiser_id),
                  "parent_id": organiser_spelt(data.parent_id, data.organiser_id)}
    elif isinstance(data, OrganisationEntityRemovedV1) and data.unit_type is not None:
        update = {"entity_id": organiser_spelt(data.entity_id, data.organiser_id)}
    else:
        return data
    changed = {name: value for name, value in update.items() if getattr(data, name) != value}
    return data.model_copy(update=changed) if changed else data


def unit_scope(unit_type: str, school_unit_code: str | None) -> str:
    """Group ids are scoped by school unit (two schools may both have a "7A"); other ids by organiser."""
    return (school_unit_code or "") if unit_type == "group" else ""


def newest(changes: Iterable[tuple[tuple[Any, ...], Row]]) -> dict[tuple[Any, ...], Row]:
    """Key → the newest change of the batch (`updated_at`); at the same time a removal wins whatever the order, and
    of two upserts (or two removals) the later in the log, as the write path published it: an SS 12000 item whose own
    time stays while what the import derives from it changes (a school unit's area) was answered `changed` and kept
    the first content (round 26). Across batches `handlers._write` holds the same rule."""
    out: dict[tuple[Any, ...], Row] = {}
    for key, row in changes:
        held = out.get(key)
        if held is None or (row["updated_at"], row["removed"]) >= (held["updated_at"], held["removed"]):
            out[key] = row
    return out


#: the rule of a change dated ahead of the door's clock (`dated_ahead`)
NOT_IN_FUTURE_RULE = "not_in_future"


def dated_ahead(at: datetime, now: datetime) -> bool:
    """Whether a change's `updated_at` (a removal's `removed_at`) lies further after `now` than the consumer takes an
    event's moments after its record (`MAX_AHEAD_OF_RECORD_MS`, the same skew). The newest change wins (`applies`): one
    dated 2099 by a source's wrong clock won over every later change until then, each answered `unchanged` (round
    28t), and its event is dead-lettered (`time_in_future`) by the consumer besides."""
    return at > now + timedelta(milliseconds=MAX_AHEAD_OF_RECORD_MS)


def applies(at: Any, removed: bool, held_at: Any, held_removed: bool) -> bool:
    """Whether a change at `at` (a removal: `removed`) takes the place of the one held (at `held_at`): the newest
    wins; at the same time a removal wins over an upsert, else the later one. `newest` within a batch and
    `handlers._write` across batches apply it; the write path judges by it what it answers and publishes (an older
    change was answered `changed`, or `removed`, and ignored by the directory: round 26)."""
    return bool(at > held_at or (at == held_at and (removed or not held_removed)))


def moves(before: Mapping[str, str | None], after: Mapping[str, str | None]) -> list[tuple[str, str | None, str | None]]:
    """(school unit code, old area, new area) of every school unit whose area changed."""
    return sorted((code, before.get(code), area) for code, area in after.items() if before.get(code) != area)


Placed = tuple[str, str | None]  # (organiser id, area id or None)


def placement_changes(placed: Mapping[str, Placed], wanted: Mapping[str, Placed]
                      ) -> tuple[dict[str, Placed], list[str]]:
    """The placements to write (code → organiser, area) and the codes to drop, from those held (`placed`) and what
    the directory says now of the same codes (`wanted`: a code no school unit holds any more is not in it). A code
    is placed only while it is in an area: one in no area (its school unit under the organiser, removed, re-coded)
    has no row, whichever batch said so — the rows a log leaves do not depend on how it is cut into batches (round
    26: a school unit removed or re-coded in a later batch left a row in no area that the same log read in one
    batch never had, so live and rebuild differed). Every reader takes a code in no area and one not placed alike."""
    kept = {code: now for code, now in wanted.items() if now[1] is not None and placed.get(code) != now}
    dropped = sorted(code for code in placed if (wanted.get(code) or (None, None))[1] is None)
    return kept, dropped


def tree_parents(parents: dict[int, Node | None], units: list[Node]) -> dict[int, Node | None]:
    """Each unit's parent in the tree (by `id`; None: a root), from the parent each names (`parents`): a unit whose
    parents lead back to itself (`_in_loops`) is a root, and so is one that would hang more than `MAX_TREE_DEPTH`
    below its root (`_too_deep`)."""
    looped = _in_loops(parents, units)
    hung = {id(unit): None if id(unit) in looped else parents[id(unit)] for unit in units}
    cut = _too_deep(hung, units)
    return {key: None if key in cut else parent for key, parent in hung.items()}


#: the deepest a unit hangs below its root (the organiser 0, its areas 1, their school units 2, their groups 3): the
#: contracts let an area hang under an area, and a chain of 300 was nested past what the answer's serialiser (and
#: many a client's JSON reader) takes, a 500 for every read of the tree
MAX_TREE_DEPTH = 32


def _too_deep(parents: dict[int, Node | None], units: list[Node]) -> set[int]:
    """The units (by `id`) that would hang deeper than `MAX_TREE_DEPTH` below their root (`parents` without loops):
    each is a root instead, what is below it counted from it. Each unit walked once."""
    depth: dict[int, int] = {}
    cut: set[int] = set()
    for unit in units:
        path: list[Node] = []
        at: Node | None = unit
        while at is not None and id(at) not in depth:
            path.append(at)
            at = parents[id(at)]
        below = -1 if at is None else depth[id(at)]
        for walked in reversed(path):  # from the top down
            below += 1
            if below > MAX_TREE_DEPTH:
                cut.add(id(walked))
                below = 0
            depth[id(walked)] = below
    return cut


def _in_loops(parents: dict[int, Node | None], units: list[Node]) -> set[int]:
    """The units (by `id`) whose parents lead back to themselves: an area named its own parent, or two areas each
    the other's (the contracts let an area hang under an area, and cannot see the loop one event at a time). Such a
    unit hangs under no root, so it and everything below it were left out of the tree without a word; it is a root
    instead, as a unit whose parent is not known. Each unit walked once (a long chain of areas costs no more)."""
    state: dict[int, bool] = {}  # False: on the walk under way; True: judged
    looped: set[int] = set()
    for unit in units:
        path: list[Node] = []
        at: Node | None = unit
        while at is not None and id(at) not in state:
            state[id(at)] = False
            path.append(at)
            at = parents[id(at)]
        if at is not None and state[id(at)] is False:  # back on this walk's own path: the loop starts at `at`
            start = next(n for n, u in enumerate(path) if u is at)
            looped.update(id(u) for u in path[start:])
        for walked in path:
            state[id(walked)] = True
    return looped
