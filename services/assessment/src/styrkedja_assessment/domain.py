"""Rules of a published assessment (bedömning). Pure: no I/O.

- the value is on a known scale (A–F, or the three-level scale);
- a value below the pass level names the unmet knowledge criteria (kunskapskrav/kriterier);
- a term grade (terminsbetyg) is on the A–F scale;
- revisions are numbered, increase, and only the newest counts; a retraction is a revision too.
"""

from __future__ import annotations

from dataclasses import dataclass

from styrkedja_kit.rules import RuleViolation
from styrkedja_contracts.scales import Scale, is_valid_value, reaches_pass, scale_values




def check_result(kind: str, scale: Scale, value: str, unmet_criteria: tuple[str, ...]) -> None:
    if not is_valid_value(scale, value):
        raise RuleViolation("value", "value_on_scale",
                            f"{value!r} is not a value of scale {scale.value} "
                            f"(allowed: {', '.join(scale_values(scale))})")
    if kind == "term_grade" and scale is not Scale.AF:
        raise RuleViolation("scale", "term_grade_on_af_scale", "a term grade must be on the AF scale")
    if not reaches_pass(scale, value) and not unmet_criteria:
        raise RuleViolation("unmet_criteria", "criteria_required_below_pass",
                            f"value {value!r} is below the pass level: name at least one unmet criterion")


@dataclass(frozen=True)
class Current:
    """What is stored for an assessment now."""

    revision: int
    retracted: bool
    content: dict


class Decision:
    """What a publish or retract request leads to."""

    APPLY = "apply"
    ALREADY_DONE = "already_done"  # the same request again: answer as before, emit nothing


def decide_publish(current: Current | None, requested_revision: int | None, content: dict) -> tuple[str, int]:
    """Returns (decision, revision). A re-sent identical revision is idempotent; anything else
    must carry a higher revision than the stored one."""
    if current is None:
        revision = requested_revision or 1
        return Decision.APPLY, revision
    if requested_revision is None:
        if not current.retracted and current.content == content:
            return Decision.ALREADY_DONE, current.revision
        return Decision.APPLY, current.revision + 1
    if requested_revision == current.revision and not current.retracted and current.content == content:
        return Decision.ALREADY_DONE, current.revision
    if requested_revision <= current.revision:
        raise RuleViolation("revision", "revision_must_increase",
                            f"revision {requested_revision} is not above the stored revision {current.revision}",
                            status=409)
    return Decision.APPLY, requested_revision


def decide_retract(current: Current | None, requested_revision: int | None) -> tuple[str, int]:
    if current is None:
        raise RuleViolation("assessment_id", "must_exist", "no such assessment", status=404)
    if current.retracted and requested_revision in (None, current.revision):
        return Decision.ALREADY_DONE, current.revision
    if requested_revision is None:
        return Decision.APPLY, current.revision + 1
    if requested_revision <= current.revision:
        raise RuleViolation("revision", "revision_must_increase",
                            f"revision {requested_revision} is not above the stored revision {current.revision}",
                            status=409)
    return Decision.APPLY, requested_revision
