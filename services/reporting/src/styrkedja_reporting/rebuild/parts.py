"""The rebuild's statements that go per organiser, cut into parts of the organisers (pure: no I/O).

A figure cell and a figure_students row are one organiser's, and pass's distinct students are counted within one
organiser (the nation's cells are the organisers' summed as they are read): the pass statement over a range of the
organisers makes exactly that range's rows, so the ranges' statements together make the whole statement's rows. Run
as jobs of their own they fill the connections a single statement left idle (session 36's 6.4M timeline: pass alone
on one connection for its last ~50 s, the whole work after the read 1.2 of 2 cores)."""

from __future__ import annotations

from collections.abc import Sequence

#: a part's organisers: those from `lo` (inclusive; None: from the first) to `hi` (exclusive; None: to the last), in
#: the database's order of the organiser ids (the ranges are asked of, and applied by, the same database)
OrganiserRange = tuple[str | None, str | None]
#: every organiser: no condition
EVERY_ORGANISER: OrganiserRange = (None, None)


def organiser_ranges(counts: Sequence[tuple[str, int]], parts: int) -> list[OrganiserRange]:
    """`counts` (organiser, facts; distinct organisers in the database's order of them — its collation's, which the
    ranges' conditions apply too, so not checked here) cut into at most `parts` contiguous ranges of about equal
    facts — an organiser is never cut. Fewer ranges where there are fewer organisers than parts (no empty range);
    the first range open below and the last open above, so together they hold every organiser, those not counted
    too (a fact written after the count belongs to some range)."""
    if parts < 1:
        raise ValueError(f"parts: {parts} is not a count of parts (at least 1)")
    before = [0]  # the facts before each organiser
    for _, n in counts:
        before.append(before[-1] + max(0, n))
    total = before[-1]
    cuts: list[int] = []  # the organisers (their places) that begin the second part on
    for k in range(1, parts):
        first = cuts[-1] + 1 if cuts else 1
        if first >= len(counts):
            break
        # the cut whose facts before it come nearest k parts' share (integers: no rounding)
        cuts.append(min(range(first, len(counts)), key=lambda i: (abs(before[i] * parts - total * k), i)))
    starts = [counts[i][0] for i in cuts]
    bounds: list[str | None] = [None, *starts, None]
    return [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]


def range_condition(part: OrganiserRange, column: str, name: str) -> tuple[str, dict[str, str]]:
    """`AND` the condition of `part` on `column` (bound as `name_lo`, `name_hi`) and its parameters; none for the
    whole range."""
    lo, hi = part
    sql, params = "", {}
    if lo is not None:
        sql += f" AND {column} >= :{name}_lo"
        params[f"{name}_lo"] = lo
    if hi is not None:
        sql += f" AND {column} < :{name}_hi"
        params[f"{name}_hi"] = hi
    return sql, params
