"""What an incremental run learns by comparing its plan with what reporting holds (`command.held`'s holdings:
organiser → (entity key, source id) pairs): groups it moves or leaves out, units and groups the source placed under
another Huvudman (and what the old organiser holds of them), groups or duties /deletedEntities names. Pure: the
command reads and sends, these decide what more to read and what to remove."""

from __future__ import annotations

from collections.abc import Collection

from .mapping import Plan


def unit_key(key: str) -> tuple[str, str, str] | None:
    """(unit type, scope, id) of a directory unit's entity key (`unit:<type>:<scope>:<id>`), else None."""
    kind, _, rest = key.partition(":")
    parts = rest.split(":", 2)
    return (parts[0], parts[1], parts[2]) if kind == "unit" and len(parts) == 3 else None


def groups_gone(the_plan: Plan, holdings: dict[str, list[tuple[str, str]]]) -> set[str]:
    """Of an incremental run's plan: the ids of the groups reporting holds that the plan moves (sends under another
    school unit code than reporting holds it at) or leaves out by design (what reporting held of them goes,
    `moved`, `left_behind`). Not a group refused or under a refused unit (kept as reporting holds it)."""
    placed = {(c["data"]["organiser_id"], c["data"]["unit_id"]): c["data"]["school_unit_code"] or ""
              for c in the_plan.changes.get("groups", [])}
    left = {r.id for r in the_plan.left_out if r.entity == "groups"}
    out = set()
    for organiser, pairs in holdings.items():
        for key, _ in pairs:
            unit = unit_key(key)
            if unit is None or unit[0] != "group":
                continue
            code = placed.get((organiser, unit[2]))
            if unit[2] in left or (code is not None and code != unit[1]):
                out.add(unit[2])
    return out


def crossed(the_plan: Plan, holdings: dict[str, list[tuple[str, str]]]) -> dict[str, frozenset[str]]:
    """Of an incremental run's plan: the source ids reporting holds an entity of under an organiser that the plan sends
    none of that id under, but sends it under another — a school unit (or an area, a group, a duty) the source placed
    under another Huvudman, and what came from it (a unit's, a group's memberships, an activity's teaching) → the
    organisers it is sent under now. An id sent under the organiser holding it too (an activity teaching groups of
    two organisers) is not crossed."""
    under: dict[str, set[str]] = {}
    # (a membership's source id is its group's, sent among the groups: the memberships, most of a plan, not walked)
    for entity, changes in the_plan.changes.items():
        if entity == "memberships":
            continue
        for change in changes:
            if change["source_id"]:
                under.setdefault(change["source_id"], set()).add(change["data"]["organiser_id"])
    out: dict[str, frozenset[str]] = {}
    for organiser, pairs in holdings.items():
        for _, source_id in pairs:
            now = under.get(source_id)
            if now and organiser not in now:
                out[source_id] = frozenset(now)
    return out


def crossed_units(crossed_ids: dict[str, frozenset[str]], holdings: dict[str, list[tuple[str, str]]]) -> bool:
    """Whether any of `crossed` is a unit reporting holds (a school unit, an area, a group): what hangs under it is
    read whole then (a duty is read whole every run, and leaves nothing of another source id behind)."""
    return bool(crossed_ids) and any(source_id in crossed_ids and key.startswith("unit:")
                                     for pairs in holdings.values() for key, source_id in pairs)


def units_new(the_plan: Plan, holdings: dict[str, list[tuple[str, str]]]) -> set[str]:
    """Of an incremental run's plan: the school units it sends under an organiser whose directory (read: in
    `holdings`) holds none of that source id — a school that changed Huvudman, removed at the old one (`across`, or
    that organiser's own run), or a unit new to reporting. Its groups that did not change are not read by an
    incremental run, and would stay unsent until a full run."""
    # (by the unit's id in its key, the source's id of it: a row of reporting's from before it kept source ids has
    # none, and every unit would look new, every run reading the groups whole)
    held_units: dict[str, set[str]] = {}
    for organiser, pairs in holdings.items():
        held_units[organiser] = {unit[2] for key, _ in pairs
                                 if key.startswith("unit:school_unit:") and (unit := unit_key(key)) is not None}
    return {c["data"]["unit_id"] for c in the_plan.changes.get("organisations", [])
            if c["data"]["unit_type"] == "school_unit" and c["data"]["organiser_id"] in held_units
            and c["data"]["unit_id"] not in held_units[c["data"]["organiser_id"]]}


def taught_by_deleted(deleted: Collection[str], holdings: dict[str, list[tuple[str, str]]]) -> bool:
    """Of an incremental run: whether /deletedEntities names a group or a duty reporting holds. Reporting removes
    what came from it (the group, its memberships; the duty), but not the teaching assignments naming it, which came
    from the activities (an assignment's key hashes the activity, the group and the duty): an unchanged activity is not
    read, and its assignment stayed — a teacher reading a group the source no longer has, or a deleted duty's
    teacher still teaching — until a full run. Then the activities are read whole, as for a group moved."""
    named = set(deleted)
    return bool(named) and any(source_id in named and (key.startswith(("unit:group:", "duty:")))
                               for pairs in holdings.values() for key, source_id in pairs)


def across(the_plan: Plan, sent: Collection[tuple[str, str]], holdings: dict[str, list[tuple[str, str]]]
           ) -> list[tuple[str, str]]:
    """Of an incremental run: what an organiser's directory holds of a source id the source placed under another
    organiser (`Plan.crossed`) and this run did not send under the first — the school unit, its groups, their
    memberships and teaching, its duties. Left, the old organiser's readers kept reading a school that changed
    Huvudman (and reporting refused it at the new one for a token of it alone, `school_unit_code_held`) until a full
    run. Not what was refused this run, nor the memberships of a group whose members are unknown. A refused
    membership (its id `group/person`) does not hold its group back: the group was sent at its new organiser, and
    kept at the old one too it stood in two places, the old organiser's teachers reading it; the membership is
    refused and said, and sent nowhere until the source mends it (a group refused, or under a refused unit, stays)."""
    refused = ({r.id.split("/")[0] for r in the_plan.refused if r.entity != "memberships"}
               | {r.id.split("/")[0] for r in the_plan.under_refused})
    return [(organiser, key) for organiser, pairs in sorted(holdings.items()) for key, source_id in pairs
            if source_id in the_plan.crossed and organiser not in the_plan.crossed[source_id]
            and (organiser, key) not in sent and source_id not in refused
            and not (key.startswith("membership:") and source_id in the_plan.members_unknown)]


def across_said(gone: list[tuple[str, str]], holdings: dict[str, list[tuple[str, str]]], the_plan: Plan
                ) -> list[str]:
    """The units `across` removed, per organiser they left and the one they are at now."""
    source_of = {(organiser, key): source_id for organiser, pairs in holdings.items() for key, source_id in pairs}
    per: dict[tuple[str, str], list[str]] = {}
    for organiser, key in gone:
        unit = unit_key(key)
        source_id = source_of.get((organiser, key), "")
        if unit is not None and source_id in the_plan.crossed:
            kind = "groups" if unit[0] == "group" else "organisations"
            per.setdefault((organiser, ", ".join(sorted(the_plan.crossed[source_id]))), []).append(
                f"{kind} {source_id}")
    return [f"moved to another organiser by the source ({new}): {', '.join(sorted(units)[:10])}"
            f"{', …' if len(units) > 10 else ''}; removed from organiser {old}'s directory with what hung under them"
            for (old, new), units in sorted(per.items())]
