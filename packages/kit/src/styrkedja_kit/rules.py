"""The exceptions a domain raises when a request breaks a rule. Pure (no web framework), so
domain modules can raise them; the API layer turns them into problem+json (see problems.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from styrkedja_contracts.events.base import full_loc
from styrkedja_contracts.scales import Scale, is_valid_value, off_scale_words


@dataclass  # not frozen: raising sets __traceback__/__cause__ on the instance
class RuleViolation(Exception):
    field: str
    rule: str
    message: str
    status: int = 422  # 404 unknown, 409 conflict with stored state, 422 the request itself is wrong

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"

    def at_item(self, index: int | None) -> RuleViolation:
        """The same violation, located in item `index` of a batch (`items.<index>.<field>`)."""
        if index is None:
            return self
        return RuleViolation(f"items.{index}.{self.field}", self.rule, self.message, self.status)


class RuleViolations(Exception):
    """Several rules broken by one request (every bad item of a batch), answered together.

    The status is 422 when any violation is about the request itself, else the one status they
    share (409 conflicts with stored state, 404 unknown records)."""

    def __init__(self, violations: Iterable[RuleViolation]) -> None:
        self.violations = list(violations)
        if not self.violations:
            raise ValueError("at least one violation")
        super().__init__("; ".join(str(v) for v in self.violations[:10]))

    @property
    def status(self) -> int:
        statuses = {v.status for v in self.violations}
        if len(statuses) == 1:
            return statuses.pop()
        return 422 if 422 in statuses else max(statuses)


def check_on_scale(scale: Scale, value: str, *, special_school: bool = False) -> None:
    """A result's `value` is a value of its scale (an assessment's, a forecast's): else 422 `value_on_scale`
    naming the values allowed — never the text sent (a refusal names the field and the rule: a client's free text in
    a result's field, a name as well as a typo, is not answered back nor logged with the answer)."""
    if not is_valid_value(scale, value, special_school=special_school):
        raise RuleViolation("value", "value_on_scale", off_scale_words(scale, special_school=special_school))


def check_items(items: Iterable[Any], check: Callable[[Any], None], *, batch: bool) -> list[RuleViolation]:
    """Run a pure `check` on every item; every violation, located at its item in a batch."""
    found = []
    for index, item in enumerate(items):
        try:
            check(item)
        except RuleViolation as error:
            found.append(error.at_item(index if batch else None))
    return found


def publishable_event(make_data: Callable[[], Any], *, source: str, subject: str | None, field: str = "body") -> Any:
    """Build the event for a request, or a 422 naming `field` when the event contract refuses
    what the HTTP schema let through — a refused event must never become a 500."""
    from pydantic import ValidationError

    from styrkedja_contracts import ContractError, new_event

    try:
        return new_event(make_data(), source=source, subject=subject)
    except ValidationError as error:
        raise contract_violation(error, field) from None
    except ContractError as error:
        rules = sorted(set(error.rules))
        if len(rules) != 1:
            raise RuleViolation(field, "event_contract", f"cannot be published as an event: {error}") from None
        # the rule the contract names (an envelope attribute's: `subject`'s `no_invisible_characters`, round 36)
        raise RuleViolation(field, rules[0], f"cannot be published as an event: {error}") from None


def contract_violation(error: Any, field: str) -> RuleViolation:
    """A 422 naming `field` for an event model's `ValidationError` (the rule when it is one)."""
    rules = sorted({str(e["type"]) for e in error.errors()})
    return RuleViolation(field, rules[0] if len(rules) == 1 else "event_contract",
                         "cannot be published as an event: " + "; ".join(
                             f"{'.'.join(map(str, full_loc(e)))}: {e['msg']}" for e in error.errors()))
