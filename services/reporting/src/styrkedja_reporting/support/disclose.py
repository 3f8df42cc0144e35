"""Disclosure of the support figures, pure: the same decision as every figure table
(`access.complement.protect_rows`), over every sibling of the unit asked for.

Counts of students with support are sensitive: at a level the reader's role suppresses (above the
school unit for every role but the organiser admin; every level for politician and public), a count
of 1 to N-1 students is withheld, and so are enough of its siblings that it cannot be worked out from
the parent total (the level above, shown elsewhere). One *slice* per figure, each its own cell per
unit (a count of students is the figure itself, so the cell rests on that count):

- `("active", kind)`, `("active", None)` — students with the kind (any kind) active;
- `("outcome", kind, outcome)` — students with an evaluated intervention of that outcome;
- `("assessed", subject)` — students assessed (the shares' denominator);
- `("below", subject)` — students below the pass level without support (`None`: in any subject);
- `("open",)` — investigations open longer than N weeks (interventions, one per student);
- `("before_after", subject, school year, term, round, phase)` — supported students with a result.

Figures tied to a cell are withheld with it: the interventions of a kind (active, per outcome) with
its students (their pattern of withheld cells is the students' — never a new equation to solve),
the students reaching the pass level before/after with the students, and every share with any of
its inputs. Not covered (documented): a student with support in several subjects, or in two groups,
makes the subject/group cells overlap, which the additive model does not describe (the parent is
never less than a child, so nothing below N is revealed by it); plan coverage counts teaching
assignments, not students, and is shown exactly.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass

from styrkedja_kit.auth import Level

from ..access.complement import Counted, is_withheld, protect_rows
from ..access.disclosure import Disclosure, DisclosureRules
from ..exports.table import Withheld


def per_unit_rows(level: Level, counts: Mapping[tuple[Hashable, ...], int], parents: Mapping[str, Hashable | None],
                  family: str) -> list[Counted]:
    """`counts`: (unit, key…) → students, as the `read.units_*` reads give them: one row per unit
    and slice `(family, key…)`."""
    return [Counted((family, *key[1:]), level, str(key[0]), parents.get(str(key[0])), {"*": n})
            for key, n in counts.items() if n > 0]


@dataclass(frozen=True)
class Shown:
    """What one reader sees of one unit's support figures: one decision per family (their slices
    never meet); none: every figure exact."""

    unit: str
    decisions: tuple[Disclosure, ...] = ()

    def withheld(self, *slices: Hashable) -> bool:
        return any(is_withheld(d, s, self.unit) for d in self.decisions for s in slices)

    def value(self, value: object, *slices: Hashable) -> object:
        """The value, or `Withheld` (`..` in CSV/xlsx, null plus the reason in JSON) when any of
        the cells it rests on is withheld."""
        return Withheld() if self.withheld(*slices) else value


def decide(rows: list[Counted], *, suppressed: frozenset[Level], rules: DisclosureRules) -> Disclosure | None:
    """The decision for these rows, or None when the reader sees their level exactly."""
    if not rows or rows[0].level not in suppressed:
        return None
    return protect_rows(rows, suppressed=suppressed, rules=rules)
