"""Numbered revisions of a record a platform publishes (an assessment, a forecast). Pure.

Only the newest revision counts. A re-sent identical request is answered as before and emits
nothing; a change takes the next revision, or the one the sender names, which must be above the
stored one. A removal (retraction, withdrawal) is a revision too; removing what is removed is a
no-op. After a removal, only a publish that names a revision above the removal's restores the
record: a late publish, or an old request sent again, must not resurrect it (409
`removed_needs_revision`); one removed at `MAX_NAMED_REVISION` or above (named so, or numbered by the service after
a record at the highest named revision) can never be named past, so it cannot be restored: 409 `removed_for_good`,
saying so, never a request for a revision validation refuses. Removing a record never seen is a 404 (`must_exist`). A sender names revisions up to
`MAX_NAMED_REVISION` only, so the next one always fits; a record stored at a database integer's end before that rule
is a 409 `revisions_exhausted` naming `revision` (no event could carry its next revision).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from styrkedja_contracts.events.base import MAX_INT4, MAX_NAMED_REVISION

from .rules import RuleViolation


class Decision(StrEnum):
    APPLY = "apply"
    ALREADY_DONE = "already_done"  # the same request again: answer as before, emit nothing


@dataclass(frozen=True)
class Stored:
    """What is stored for a record now."""

    revision: int
    removed: bool
    content: dict[str, Any]


def _not_above(requested: int, stored: Stored) -> RuleViolation:
    return RuleViolation("revision", "revision_must_increase",
                         f"revision {requested} is not above the stored revision {stored.revision}", status=409)


def following_revision(revision: int) -> int:
    """The revision after `revision`, for every fact a service numbers (a record here, a calendar, a LIKA action plan):
    a 409 `revisions_exhausted` naming `revision` where none fits a database integer, never a database error."""
    if revision >= MAX_INT4:
        raise RuleViolation("revision", "revisions_exhausted",
                            f"the stored revision {revision} is the last a database integer holds: no revision "
                            "can follow it", status=409)
    return revision + 1


def _next(stored: Stored) -> int:
    return following_revision(stored.revision)


def same_content(stored: dict[str, Any], content: dict[str, Any], unordered: frozenset[str] = frozenset()) -> bool:
    """Whether `content` says what `stored` says. The lists of the `unordered` fields are sets (each value once, the
    kit's `UniqueItems`): the same values in another order — a client building them from a set or a map, another order
    each time — are no change (they were a new revision and event)."""
    if stored == content:
        return True
    if not unordered or stored.keys() != content.keys():
        return False
    for key, value in content.items():
        old = stored[key]
        if key in unordered and isinstance(value, list) and isinstance(old, list):
            if len(old) != len(value) or sorted(map(repr, old)) != sorted(map(repr, value)):
                return False
        elif old != value:
            return False
    return True


def decide_change(stored: Stored | None, requested: int | None, content: dict[str, Any], *,
                  unordered: frozenset[str] = frozenset()) -> tuple[Decision, int]:
    """(decision, revision) for publishing `content`, optionally at an explicit revision (`unordered`: see
    `same_content`)."""
    if stored is None:
        return Decision.APPLY, requested or 1
    if stored.removed and stored.revision >= MAX_NAMED_REVISION:
        # the restore must name a revision above the removal's, and none above MAX_NAMED_REVISION passes the door:
        # "name a higher revision" would send the sender after one that is always refused (422)
        raise RuleViolation("revision", "removed_for_good",
                            f"removed at revision {stored.revision}, not below {MAX_NAMED_REVISION}, the highest "
                            "revision a request may name: no publish can name one above it, so it cannot be "
                            "restored (the removal stands)", status=409)
    if stored.removed and (requested is None or requested <= stored.revision):
        raise RuleViolation("revision", "removed_needs_revision",
                            f"removed at revision {stored.revision}; to restore it, name a revision above that one",
                            status=409)
    same = not stored.removed and same_content(stored.content, content, unordered)
    if requested is None:
        return (Decision.ALREADY_DONE, stored.revision) if same else (Decision.APPLY, _next(stored))
    if requested == stored.revision and same:
        return Decision.ALREADY_DONE, stored.revision
    if requested <= stored.revision:
        raise _not_above(requested, stored)
    return Decision.APPLY, requested


def decide_removal(stored: Stored | None, requested: int | None, *, id_field: str,
                   noun: str) -> tuple[Decision, int]:
    """(decision, revision) for removing the record; 404 naming `id_field` when there is none."""
    if stored is None:
        raise RuleViolation(id_field, "must_exist", f"no such {noun}", status=404)
    if stored.removed and (requested is None or requested >= stored.revision):
        return Decision.ALREADY_DONE, stored.revision  # removed is removed: no second event
    if requested is None:
        return Decision.APPLY, _next(stored)
    if requested <= stored.revision:
        raise _not_above(requested, stored)
    return Decision.APPLY, requested
