"""What the import's summary says besides reporting's counts: the table of them, and the lines of what the plan
refused, left out, folded or found odd in the source (`_said`), of what --only-organiser left out (`_only_said`) and
of what was left out by design (`_by_design`). Pure: the command prints them."""

from __future__ import annotations

import re
from collections import Counter

from rich.table import Table

from styrkedja_contracts.identifiers import redact_personal_identity_numbers
from styrkedja_contracts.subjects import subject_list

from .mapping import (
    AREA_REFUSED,
    GROUP_REFUSED,
    ORGANISATION_REFUSED,
    ORGANISER_REFUSED,
    UNDER_REFUSED,
    Plan,
)
from .models import FIRST_DAY, LAST_DAY, SCHOOL_ZONE
from .moves import present

#: the summary table's columns after the entity ("left out": what hangs under a school unit refused this run)
#: ("unsure": sent again after an attempt whose answer was lost, which may have changed them: shown when there are any)
COUNTED = ("created", "changed", "removed", "unchanged", "unsure", "refused", "left out")
#: the summary's column of items a chunk sent again may have changed on the attempt whose answer was lost (`_honest`)
UNSURE = "unsure"


def _only_said(the_plan: Plan, only: frozenset[str]) -> list[str]:
    """What --only-organiser left out, per organiser (counted per entity), and an organiser it names that the source
    has nothing of (a typing error: nothing of it is sent, nor removed). An organiser whose every item was refused or
    left out has them in the source (`moves.present`): it was said to have nothing, beside its refusals."""
    lines = [f"--only-organiser: organiser {organiser} not imported ("
             + ", ".join(f"{count} {entity}" for entity, count in counts.items()) + ")"
             for organiser, counts in sorted(the_plan.other_organisers.items())]
    lines += [f"--only-organiser {organiser}: the source has nothing of it to import" for organiser in
              sorted(only - present(the_plan))]
    return lines


#: the entities whose refusals no organiser can be told of (a person is no organiser's, and an item whose place in the
#: tree is not known): with --only-organiser, said so — they were listed as if they were that organiser's
WHOLE_SOURCE = " (of the whole source: not told per organiser)"


#: the most refusals listed one by one per entity (`_refused_said`); the rest counted by the field they are about
REFUSED_LISTED = 50
#: the fields the rest are counted by, most often refused first (`_refused_said`)
REFUSED_FIELDS_SAID = 5


def _refused_said(the_plan: Plan, *, only: bool = False) -> list[str]:
    """Each refusal, `refused <entity> <id>: <reason>`, up to `REFUSED_LISTED` per entity; with --only-organiser
    (`only`), one whose organiser the tree does not tell (a person's, `mapping._whose`) marked as of the whole source,
    as the summary's other such lines. The rest are counted per entity and by field (`displayName: 99950`, an entry's
    index left out: `groupMemberships[].person.id`) — session 35: a server of 100,000 items written wrong printed
    100,000 lines, every run; all of them count in the table's `refused` column and in --strict's exit."""
    lines = []
    listed: Counter[str] = Counter()
    rest: dict[str, Counter[str]] = {}
    for r in the_plan.refused:
        listed[r.entity] += 1
        if listed[r.entity] <= REFUSED_LISTED:
            lines.append(f"refused {r.entity} {r.id}: {r.reason}" + (WHOLE_SOURCE if only and not r.organisers else ""))
        else:
            rest.setdefault(r.entity, Counter())[_field_of(r.reason)] += 1
    for entity, fields in rest.items():
        said = ", ".join(f"{field}: {count}" for field, count in fields.most_common(REFUSED_FIELDS_SAID))
        others = sum(fields.values()) - sum(count for _, count in fields.most_common(REFUSED_FIELDS_SAID))
        lines.append(f"refused {entity}: {sum(fields.values())} more, not listed (the first {REFUSED_LISTED} are; "
                     f"by field: {said}{f', {others} of other fields' if others else ''})")
    return lines


def _field_of(reason: str) -> str:
    """The field a refusal's reason is about (its text before ": "), an entry's index left out (`teachers[].duty`);
    "other" for a reason naming none."""
    field, colon, _ = reason.partition(": ")
    if not colon or len(field) > 80 or " " in field:
        return "other"
    return re.sub(r"\[[0-9]+\]", "[]", field)


#: the most items left out under a refused unit listed one by one per entity (`_said`); the rest counted
LEFT_OUT_LISTED = 50


def _by_design(the_plan: Plan) -> list[str]:
    """What was left out by design (`Plan.left_out`: a staff group, its activities, a duty at an organisation that is
    no Skolenhet), each by its id up to `LEFT_OUT_LISTED` per entity, the rest counted: it was said as `refused …` a
    line each (a municipality's central staff, hundreds of duties every run), which no operator is to mend."""
    listed: Counter[str] = Counter(left.entity for left in the_plan.left_out)
    shown: Counter[str] = Counter()
    lines = []
    for left in the_plan.left_out:
        shown[left.entity] += 1
        if shown[left.entity] <= LEFT_OUT_LISTED:
            lines.append(f"left out by design, {left.entity} {left.id}: {left.reason}")
    return lines + [f"{entity}: {count - LEFT_OUT_LISTED} more left out by design" for entity, count in
                    listed.items() if count > LEFT_OUT_LISTED]


def _said(the_plan: Plan, notes: list[str], *, incremental: bool = False, only: bool = False) -> list[str]:
    """What the summary says besides the counts and the refusals (`incremental`: of a --since run). With
    --only-organiser (`only`) the counts are of its organisers' items (`mapping.keep_organisers`), but for those no
    organiser can be told of — a person's, an id the lists no longer hold, a date as read: said so (round 32)."""
    whole: list[str] = []  # the lines of the whole source, whoever its items are of
    lines = [f"possibly recreated under a new id ({len(the_plan.recreated)} refused, nothing of them applied): "
             + ", ".join(f"{r.entity} {r.id}" for r in the_plan.recreated)] if the_plan.recreated else []
    lines += [f"possibly recreated: {note}" for note in notes]
    # a unit left out for what it hangs under takes what hangs under it along
    for why in (ORGANISER_REFUSED, AREA_REFUSED, UNDER_REFUSED, GROUP_REFUSED, ORGANISATION_REFUSED):
        per_entity = Counter(left.entity for left in the_plan.under_refused if left.reason.startswith(why))
        if per_entity:
            lines.append(f"{why}: " + ", ".join(f"{count} {entity}" for entity, count in per_entity.items()))
    lines += _under_each_refused(the_plan)
    # each by its id up to `LEFT_OUT_LISTED` per entity: all are counted per refused unit above, and a municipality's
    # Huvudman refused left out some 100,000 memberships, a line each (minutes of printing, a log no one reads)
    listed: Counter[str] = Counter()
    for left in the_plan.under_refused:
        listed[left.entity] += 1
        if listed[left.entity] <= LEFT_OUT_LISTED:
            lines.append(f"{left.entity} {left.id}: {left.reason}")
    lines += [f"{entity}: {count - LEFT_OUT_LISTED} more left out (counted above)"
              for entity, count in listed.items() if count > LEFT_OUT_LISTED]
    # up to `LEFT_OUT_LISTED`, the rest counted: a server with an organisation for every class (a Klass or an Enhet
    # below each Skolenhet, round 30) said hundreds of lines a run, one a class
    lines += [f"not a level of the directory, {f.entity} {f.id}: {f.reason}"
              for f in the_plan.folded[:LEFT_OUT_LISTED]]
    if len(the_plan.folded) > LEFT_OUT_LISTED:
        lines.append(f"organisations: {len(the_plan.folded) - LEFT_OUT_LISTED} more not a level of the directory")
    unknown = the_plan.members_unknown if the_plan.members_unknown_said is None else the_plan.members_unknown_said
    if unknown:
        lines.append(f"groups: {len(unknown)} served without groupMemberships, and not every person "
                     "states its own (expand=groupMemberships): what persons state is imported, nothing of them removed")
    if the_plan.membership_conflicts:
        lines.append(f"memberships: {sum(the_plan.membership_conflicts.values())} stated on persons otherwise than "
                     f"by their group's own groupMemberships, in {len(the_plan.membership_conflicts)} groups: the "
                     "group's list was imported (" + ", ".join(sorted(the_plan.membership_conflicts)[:10])
                     + (", …" if len(the_plan.membership_conflicts) > 10 else "") + ")")
    whole += [f"ids differing only in case, imported as two (ids that are no UUIDs are exact; if the source reads "
              f"them as one, mend it there): {ids}" for ids in the_plan.case_apart]
    if the_plan.memberships_of_unserved_groups and incremental:
        whole.append(f"memberships: {the_plan.memberships_of_unserved_groups} stated on persons of groups this "
                     "incremental run did not read (neither the group nor the person changed since, or the source "
                     "does not serve the group): kept as reporting holds them")
    elif the_plan.memberships_of_unserved_groups:
        whole.append(f"memberships: {the_plan.memberships_of_unserved_groups} stated on persons of groups the source "
                     "did not serve: not read")
    if the_plan.unknown_subjects:
        lines.append(f"syllabus.subjectCode: {len(the_plan.unknown_subjects)} codes not on Skolverket's subject list "
                     f"(version {subject_list().version}), imported as given (names shown as the code): "
                     + ", ".join(f"{code} ({count} teaching assignments)"
                                 for code, count in sorted(the_plan.unknown_subjects.items())[:10])
                     + (", …" if len(the_plan.unknown_subjects) > 10 else ""))
    if the_plan.unmapped_school_types:
        whole.append(f"enrolments.schoolType: {sum(the_plan.unmapped_school_types.values())} enrolments of a type "
                     f"that is not SS 12000's ({', '.join(sorted(the_plan.unmapped_school_types)[:10])}): no group "
                     "year read from them")
    for where, values in sorted(the_plan.unknown_types.items()):
        lines.append(f"{where}: {sum(values.values())} of a value that is not SS 12000's, imported as given ("
                     + ", ".join(f"{value} ({count})" for value, count in sorted(values.items())[:10])
                     + (", …" if len(values) > 10 else "") + ")")
    if the_plan.taught_across:
        lines.append(f"teaching assignments: {sum(the_plan.taught_across.values())} whose teacher's duty is at another "
                     "organiser's school unit, imported under the group's organiser, whose teaching it is ("
                     + ", ".join(f"{count} of {group}'s groups by {duty}'s duties"
                                 for (group, duty), count in sorted(the_plan.taught_across.items())[:10])
                     + (", …" if len(the_plan.taught_across) > 10 else "") + ")")
    if the_plan.in_two_classes:
        classes = sorted(the_plan.in_two_classes)
        lines.append(f"memberships: students in two groups of type Klass at once, in {len(classes)} classes ("
                     + ", ".join(f"{group}: {the_plan.in_two_classes[group]}" for group in classes[:10])
                     + (", …" if len(classes) > 10 else "") + "): imported as given, each counted in both; a move "
                     "between classes needs the old membership's endDate at the source")
    for entity, ids in sorted(the_plan.listed_deleted.items()):
        whole.append(f"deletedEntities: {len(ids)} {entity} the source still lists ({', '.join(ids[:10])}"
                     f"{', …' if len(ids) > 10 else ''}): taken as deleted (a deletion is final, the list lags), not "
                     "sent; what names them is left out by design")
    if the_plan.persons_listed_deleted or the_plan.memberships_listed_deleted:
        whole.append(f"deletedEntities: {the_plan.persons_listed_deleted} persons the source still lists, and "
                     f"{the_plan.memberships_listed_deleted} memberships of persons it names stated still: taken as "
                     "deleted (a deletion is final, the list lags), not sent")
    if the_plan.deleted_not_ids:
        whole.append(f"deletedEntities: {the_plan.deleted_not_ids} ids no entity can have (1-64 of A-Z a-z 0-9 . _ : -, "
                     "not only dots): nothing was imported of them, nothing removed by them")
    whole += [f"{field}: {count} dates written as a date-time, read as their day in {SCHOOL_ZONE.key}"
              for field, count in the_plan.dates_from_date_times.items()]
    whole += [f"{field}: {count} dates before {FIRST_DAY} or ends after {LAST_DAY} (a system's \"none\", such as "
              "0001-01-01 or 9999-12-31), read as none" for field, count in the_plan.dates_read_as_none.items()]
    lines += [f"{line}{WHOLE_SOURCE}" if only else line for line in whole]
    return [redact_personal_identity_numbers(line)[0] for line in lines]  # they quote the source's ids


def _under_each_refused(the_plan: Plan) -> list[str]:
    """Per refused organisation or group: its id, why it was refused, and what was left out under it, counted
    (`organisations su: refused (name: …); left out under it: 1 groups, 30 memberships`)."""
    why = {(r.entity, r.id): r.reason for r in [*the_plan.refused, *the_plan.under_refused]}
    per_parent: dict[tuple[str, str], Counter[str]] = {}
    for left in the_plan.under_refused:
        parent = left.reason.rsplit(" (", 1)[-1].rstrip(")")
        entity = "groups" if left.reason.startswith(GROUP_REFUSED) else "organisations"
        per_parent.setdefault((entity, parent), Counter())[left.entity] += 1
    return [f"{entity} {parent}: refused ({why.get((entity, parent), 'see above')}); left out under it: "
            + ", ".join(f"{count} {kind}" for kind, count in counts.items())
            for (entity, parent), counts in per_parent.items()]


def _table(summary: dict[str, Counter[str]], title: str) -> Table:
    table = Table(title=title)
    columns = [c for c in COUNTED if c != UNSURE or any(counts[c] for counts in summary.values())]
    for column in ("entity", *columns):
        table.add_column(column, justify="left" if column == "entity" else "right")
    for entity, counts in summary.items():
        table.add_row(entity, *(str(counts[c]) for c in columns))
    return table
