"""Additive cell state: what the apply path keeps per cell, and how deltas are summed into it.

Every figure is derived from state that is a *sum of contributions*, one contribution per fact.
So the apply path never needs to recompute: when a fact changes from `old` to `new` (a new
revision, a retraction, a student moving group) it adds `contribution(new) - contribution(old)`
to the cells concerned. Because the sum is commutative and associative, the deltas can be
applied in any order, and the result equals a recomputation from the final facts (invariant 3).

Two shapes of state:

* `Tally` — a fixed set of integer counters (a table row: one column per counter).
* `Multiset` — a signed count per key (a child table: one row per key, e.g. per student id or
  per assessment date). Needed where a figure is not a sum (distinct students, newest date):
  the multiset is additive, the figure is derived from it at read time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Iterable, Mapping
from typing import Any, Protocol, Self, TypeVar


class Additive(Protocol):
    def __add__(self, other: Any) -> Any: ...
    def __neg__(self) -> Any: ...
    def is_zero(self) -> bool: ...


@dataclasses.dataclass(frozen=True)
class Tally:
    """Base of the fixed-counter states: subclasses declare `int` fields with default 0."""

    def __add__(self, other: Self) -> Self:
        return type(self)(*(getattr(self, f.name) + getattr(other, f.name) for f in dataclasses.fields(self)))

    def __sub__(self, other: Self) -> Self:
        return self + (-other)

    def __neg__(self) -> Self:
        return type(self)(*(-getattr(self, f.name) for f in dataclasses.fields(self)))

    def is_zero(self) -> bool:
        return all(getattr(self, f.name) == 0 for f in dataclasses.fields(self))


class Multiset(dict[Hashable, int]):
    """A signed count per key. Unlike `collections.Counter`, `+` keeps negative counts (a delta
    may remove before the matching add arrives) and drops only exact zeros."""

    @classmethod
    def of(cls, *keys: Hashable) -> Multiset:
        result = cls()
        for key in keys:
            result[key] = result.get(key, 0) + 1
        return result

    def __add__(self, other: Mapping[Hashable, int]) -> Multiset:
        result = Multiset(self)
        for key, count in other.items():
            total = result.get(key, 0) + count
            if total:
                result[key] = total
            else:
                result.pop(key, None)
        return result

    def __sub__(self, other: Mapping[Hashable, int]) -> Multiset:
        return self + (-Multiset(other))

    def __neg__(self) -> Multiset:
        return Multiset({key: -count for key, count in self.items()})

    def is_zero(self) -> bool:
        return not any(self.values())

    def present(self) -> list[Hashable]:
        """Keys with a positive count (what the figure sees once all deltas are in)."""
        return [key for key, count in self.items() if count > 0]


K = TypeVar("K", bound=Hashable)
S = TypeVar("S", bound=Additive)

def apply(ledger: dict[K, S], change: Mapping[K, S]) -> dict[K, S]:
    """Add `change` to `ledger` in place, cell by cell; a cell whose state becomes zero
    disappears (so a recomputation and a delta-maintained ledger compare equal as dicts)."""
    for key, state in change.items():
        summed = ledger[key] + state if key in ledger else state
        if summed.is_zero():
            ledger.pop(key, None)
        else:
            ledger[key] = summed
    return ledger


def merge(ledger: Mapping[K, S], change: Mapping[K, S]) -> dict[K, S]:
    """`ledger` plus `change`, as a new ledger."""
    return apply(dict(ledger), change)


def delta_between(old: Mapping[K, S], new: Mapping[K, S]) -> dict[K, S]:
    """The change in state when the contributions `old` (of a fact's old version) are replaced
    by `new`: `new - old`, cell by cell, zero cells left out."""
    return merge(dict(new), {key: -state for key, state in old.items()})


def total(contributions: Iterable[Mapping[K, S]]) -> dict[K, S]:
    """Recomputation: the sum of the contributions of every current fact."""
    ledger: dict[K, S] = {}
    for contribution in contributions:
        apply(ledger, contribution)
    return ledger


def combined(states: Iterable[S | None]) -> S | None:
    """The sum of several cells' states (e.g. all years, or all genders of a merit cell):
    still a handful of lookups, never a scan of facts. None when every cell is empty."""
    result: S | None = None
    for state in states:
        if state is not None:
            result = state if result is None else result + state
    return result
