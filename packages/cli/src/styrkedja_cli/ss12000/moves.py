"""What a run learns by comparing its plan with what reporting holds (`command.held`'s holdings: organiser →
(entity key, source id) pairs). A full run: what the source no longer has (`vanished`), judged before and after
sending (`surely_vanishing`, `check_not_mass_removal`), and units removed and made new in one place (`replaced`). An
incremental run: groups it moves or leaves out (`moved`, `left_behind`, `stale_groups`), units and groups the source
placed under another Huvudman (and what the old organiser holds of them), groups or duties /deletedEntities names.
Pure: the command reads and sends, these decide what more to read and what to remove."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable

from .mapping import Plan
from .source import SourceError


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


def kept_back(the_plan: Plan) -> set[str]:
    """The source ids whose holdings a run keeps as reporting holds them: what was refused this run (a refusal must
    not read as a deletion) and what hangs under a refused unit. Not a group for a refused membership of it (its id
    `group/person`): a group sent has its list as the whole of its members, so a student dropped from it goes; the
    refused membership's own key is kept (`spared`). It held the group back whole: a student dropped from a list that
    also stated another twice with two ends stayed a member of the group in every run, full or incremental (round 32)."""
    return ({r.id.split("/")[0] for r in the_plan.refused if r.entity != "memberships"}
            | {r.id.split("/")[0] for r in the_plan.under_refused})


def spared(the_plan: Plan) -> set[str]:
    """The entity keys of the memberships refused this run, as reporting holds them (`membership:<id>`): kept."""
    return {f"membership:{mid}" for mid in the_plan.refused_memberships}


def vanished(the_plan: Plan, sent: Collection[tuple[str, str]], holdings: dict[str, list[tuple[str, str]]]
             ) -> list[tuple[str, str]]:
    """A full import is the truth for the organisers it covers: what reporting holds for them and
    the source no longer has goes. Not what came from a source entity that was refused this time
    (a refusal must not read as a deletion), nor what hangs under a school unit refused this time, nor the
    memberships of a group served without its `groupMemberships` (unknown, not none)."""
    refused, kept = kept_back(the_plan), spared(the_plan)
    return [(organiser, key) for organiser, pairs in sorted(holdings.items()) for key, source_id in pairs
            if (organiser, key) not in sent and source_id not in refused and key not in kept
            and not (key.startswith("membership:") and source_id in the_plan.members_unknown)]


def _group_keys(pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """(organiser, group id) → the entity key of each group unit among (organiser, key) pairs."""
    out = {}
    for organiser, key in pairs:
        unit = unit_key(key)
        if unit is not None and unit[0] == "group":
            out[(organiser, unit[2])] = key
    return out


def moved(sent: Collection[tuple[str, str]], holdings: dict[str, list[tuple[str, str]]]) -> list[tuple[str, str]]:
    """Of an incremental run: the groups reporting holds under another school unit than the one this run sent them
    under (a group's key is scoped by its school unit code: a group the source moved is sent under a new key, and the
    old one would stay beside it, one group in two places). A full run removes them as vanished."""
    now = _group_keys(sent)
    return [(organiser, key) for organiser, pairs in sorted(holdings.items()) for key, _ in pairs
            if (organiser, key) not in sent and (unit := unit_key(key)) is not None and unit[0] == "group"
            and (organiser, unit[2]) in now]


def left_behind(the_plan: Plan, sent: Collection[tuple[str, str]], holdings: dict[str, list[tuple[str, str]]]
                ) -> list[tuple[str, str]]:
    """Of an incremental run: what reporting holds of an item this run read whole and did not send it as — a duty
    (duties are read whole every run) that moved from one Rektorsområde to another (a principal's duty is one of the
    directory at each Skolenhet below it, keyed by the unit: a move sends new keys) or above the school units, and a
    group, a duty or an activity left out by design this run (its organisation deleted at the source, a group at no
    single Skolenhet): with its memberships and teaching assignments. Left, a principal kept reading its old school
    units until a full run. Not an item refused this run (a refusal must not read as a move)."""
    read = {c["source_id"] for c in the_plan.changes.get("duties", [])} | {
        r.id for r in the_plan.left_out if r.entity in ("duties", "groups", "activities")}
    # a group read and sent whose members are known (its own `groupMemberships`, or every person stating theirs): its
    # list is the whole of its members, so a membership reporting holds of it that the list no longer has goes (round
    # 31: a student dropped from a changed group's list — left, or deleted at the source — stayed a member of it until a
    # full run). Its members unknown, what reporting holds of them stays, as a full run keeps it
    read |= {c["source_id"] for c in the_plan.changes.get("groups", [])} - the_plan.members_unknown
    read -= kept_back(the_plan)
    kept = spared(the_plan)
    return [(organiser, key) for organiser, pairs in sorted(holdings.items()) for key, source_id in pairs
            if source_id in read and (organiser, key) not in sent and key not in kept]


def moved_said(gone: list[tuple[str, str]], sent: Collection[tuple[str, str]]) -> list[str]:
    """The moved groups (`moved`), per the school unit code each now has: where reporting held them, removed."""
    now = _group_keys(sent)
    per: dict[str, list[str]] = {}
    for organiser, key in gone:
        old = unit_key(key)
        new = unit_key(now.get((organiser, old[2]), "")) if old is not None else None
        if old is not None and new is not None:
            per.setdefault(new[1], []).append(f"{old[2]} (from {old[1] or '(no code)'})")
    return [f"groups moved to school unit code {code} by the source: {', '.join(sorted(ids)[:10])}"
            f"{', …' if len(ids) > 10 else ''}; removed where reporting held them" for code, ids in sorted(per.items())]


def stale_groups(the_plan: Plan, holdings: dict[str, list[tuple[str, str]]], removed: set[str]) -> list[str]:
    """Of an incremental run: the groups reporting holds (and this run did not remove) under a school unit code that no
    Skolenhet of the source has — their school unit was deleted at the source (named by /deletedEntities or not) or
    given another code, and they were not named by /deletedEntities. An incremental run removes only what it names:
    said, per code, for a full import (which removes them) or the source to mend."""
    per_code: dict[str, list[str]] = {}
    for pairs in holdings.values():
        for key, _ in pairs:
            unit = unit_key(key)
            if unit is not None and unit[0] == "group" and unit[1] not in the_plan.unit_codes and key not in removed:
                per_code.setdefault(unit[1], []).append(unit[2])
    if not per_code:
        return []
    count = sum(len(ids) for ids in per_code.values())
    return [f"groups: reporting holds {count} under school unit codes no Skolenhet of the source has ("
            + "; ".join(f"{code or '(none)'}: {', '.join(sorted(ids)[:5])}{', …' if len(ids) > 5 else ''}"
                        for code, ids in sorted(per_code.items())[:10])
            + ("; …" if len(per_code) > 10 else "")
            + "): their school unit is gone at the source, and /deletedEntities did not name them; an incremental "
              "run removes only what it names — a full import (without --since) removes them"]


MASS_REMOVAL_SHARE = 0.5
MASS_REMOVAL_FLOOR = 50


def present(the_plan: Plan) -> set[str]:
    """The organisers the source has anything of: what the plan sends, refused or left out, or --only-organiser left
    out. An organiser whose Huvudman was refused is in the source still (what hangs under it is kept as refused)."""
    out = {c["data"]["organiser_id"] for changes in the_plan.changes.values() for c in changes}
    out |= {o for r in [*the_plan.refused, *the_plan.under_refused, *the_plan.left_out] for o in r.organisers}
    return out | set(the_plan.other_organisers)


def unlisted_said(source_has: Collection[str], holdings: dict[str, list[tuple[str, str]]],
                  gone: list[tuple[str, str]], why: dict[str, str], *, full: bool,
                  skimmed: Collection[str] = ()) -> list[tuple[str, str]]:
    """The organisers a run read (--only-organiser names them, or the --reporting-token is for them: `why`) that the
    source has nothing of, and reporting still holds anything for after the run: (organiser, what is said). Kept, not
    removed: a whole organiser gone at once is what a wrong source (a URL of another municipality's, a server's empty
    tree, a token for two sources) looks like too, and /deletedEntities did not name it — a full run removes it when
    `--gone-organiser` names it (round 32: without --only-organiser such an organiser was not noticed at all). Of one
    read without its memberships (`skimmed`: the run needed none of them, round 33), those are not counted, and said
    so."""
    removed = set(gone)
    out = []
    for organiser in sorted(set(holdings) - set(source_has)):
        left = sum((organiser, key) not in removed for key, _ in holdings[organiser])
        if left or organiser in skimmed:
            moved_there = "" if full else "what the source placed under another organiser was moved there; "
            count = f"{left} of its entities and its memberships (not counted)" if organiser in skimmed else (
                f"{left} of its entities")
            out.append((organiser, f"organiser {organiser} ({why.get(organiser, '--only-organiser')}): the source "
                                   f"has nothing of it, and reporting holds {count}: kept ({moved_there}"
                                   "an import removes a whole organiser only when asked: if it is gone, a full run "
                                   f"with --gone-organiser {organiser} removes it, or its organiser admin does)"))
    return out


def check_not_mass_removal(gone: list[tuple[str, str]], holdings: dict[str, list[tuple[str, str]]]) -> None:
    """A source that suddenly lacks most of an organiser (an empty page from a failing server, the
    wrong folder) must not empty the directory: more than half of what is held, and more than 50
    entities, is refused unless asked for (--allow-mass-removal)."""
    per_organiser = Counter(organiser for organiser, _ in gone)
    for organiser, count in sorted(per_organiser.items()):
        held_count = len(holdings.get(organiser, []))
        if count > MASS_REMOVAL_FLOOR and count > MASS_REMOVAL_SHARE * held_count:
            raise SourceError(f"the source lacks {count} of the {held_count} entities reporting holds for "
                              f"{organiser}: nothing removed (--allow-mass-removal if that is right)")


def surely_vanishing(the_plan: Plan, holdings: dict[str, list[tuple[str, str]]]) -> list[tuple[str, str]]:
    """Before anything is sent: what a full import will remove at least — held entities whose source entity
    the plan neither sends nor refused (a wrong folder, an empty page). Fewer than `vanished` finds after
    sending (a membership dropped from a group that is still sent), never more."""
    kept = {c["source_id"] for changes in the_plan.changes.values() for c in changes if c["source_id"]}
    kept |= kept_back(the_plan)
    kept |= set(holdings)  # an organiser unit sent without a source id (--organiser) has its own id
    return [(organiser, key) for organiser, pairs in sorted(holdings.items()) for key, source_id in pairs
            if source_id not in kept]


def replaced(created: set[tuple[str, str]], gone: list[tuple[str, str]], codes: dict[str, str]) -> list[str]:
    """Units a full import made new and units it removed in one place: an organiser's school units, a school
    unit's groups. A source that deleted an entity and made it anew under a new id shows so (its history in the
    directory stays with the old id): said, for a person to judge, as the source cannot tell us."""
    places: dict[tuple[str, str, str], tuple[list[str], list[str]]] = {}
    for index, pairs in ((0, created), (1, gone)):
        for organiser, key in sorted(pairs):
            unit = unit_key(key)
            if unit is None or unit[0] not in ("school_unit", "group"):
                continue
            scope = unit[1] if unit[0] == "group" else organiser
            places.setdefault((organiser, unit[0], scope), ([], []))[index].append(unit[2])
    out = []
    for (organiser, kind, scope), (new, old) in sorted(places.items()):
        if new and old:
            where = (f"school unit {scope}" if kind == "group" else f"organiser {organiser}" if organiser
                     else "the source")
            made = ", ".join(f"{i} (school unit code {codes[i]})" if i in codes else i for i in new)
            out.append(f"{where}: {kind.replace('_', ' ')} {', '.join(old)} removed and {made} new — if the source "
                       "deleted and recreated it under a new id, its history stays with the old id")
    return out
