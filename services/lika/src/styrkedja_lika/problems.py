"""Rule problems of this service's pure rules, and the one way they become problem+json.

Rules collect *every* problem of a request (a publish refused lists every missing indicator), so they
return `FieldProblem`s; `raise_if_any` turns a non-empty list into the kit's 4xx `Problem`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from styrkedja_kit.problems import Problem, field_error
from styrkedja_kit.rules import RuleViolation


@dataclass(frozen=True)
class FieldProblem:
    field: str
    rule: str
    message: str


def raise_if_any(problems: Sequence[FieldProblem], *, status: int = 422, title: str = "Rule broken") -> None:
    if not problems:
        return
    if len(problems) == 1:
        p = problems[0]
        raise RuleViolation(p.field, p.rule, p.message, status=status)
    detail = f"{len(problems)} problems: " + "; ".join(f"{p.field}: {p.message}" for p in problems[:10])
    raise Problem(status, title, detail, [field_error(p.field, p.rule, p.message) for p in problems])
