"""Täckning: students with a result out of the roster size.

State per `ResultCell`: a `Multiset` of student ids (student → number of their results in the
cell). Distinct students are not a sum of results, but the multiset is; a student with two
results in a cell (e.g. one from each group after changing group mid-term, at school-unit level)
counts once. The roster size comes from the directory at read time; `None` = unknown."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .cells import ResultCell, result_cells
from .facts import Result
from .pass_share import DECIMALS
from .state import Multiset, delta_between


def coverage_contribution(result: Result | None) -> dict[ResultCell, Multiset]:
    if result is None:
        return {}
    students = Multiset.of(result.student_id)
    return dict.fromkeys(result_cells(result), students)


def coverage_delta(old: Result | None, new: Result | None) -> dict[ResultCell, Multiset]:
    return delta_between(coverage_contribution(old), coverage_contribution(new))


class RosterStatus(StrEnum):
    known = "known"
    unknown = "unknown"  # the directory does not know the roster: no share, never a guess
    empty = "empty"  # the roster is known and empty: no share, never a division by zero


@dataclass(frozen=True)
class Coverage:
    with_result: int
    roster_size: int | None
    share: float | None
    status: RosterStatus
    # More students with a result than on the roster: students who left the group after
    # being assessed still count where they were assessed. The share is then capped at 1.
    exceeds_roster: bool = False


def coverage(students: Multiset | None, roster_size: int | None) -> Coverage:
    return coverage_of_count(len((students or Multiset()).present()), roster_size)


def coverage_of_count(with_result: int, roster_size: int | None) -> Coverage:
    """As `coverage`, from the number of distinct students (what a read of the state counts)."""
    if roster_size is None:
        return Coverage(with_result, None, None, RosterStatus.unknown)
    if roster_size <= 0:
        return Coverage(with_result, roster_size, None, RosterStatus.empty, exceeds_roster=with_result > 0)
    return Coverage(with_result, roster_size, round(min(1.0, with_result / roster_size), DECIMALS),
                    RosterStatus.known, exceeds_roster=with_result > roster_size)
