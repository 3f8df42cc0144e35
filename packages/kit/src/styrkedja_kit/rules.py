"""The one exception a domain raises when a request breaks a rule. Pure (no web framework),
so domain modules can raise it; the API layer turns it into problem+json (see problems.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass  # not frozen: raising sets __traceback__/__cause__ on the instance
class RuleViolation(Exception):
    field: str
    rule: str
    message: str
    status: int = 422  # 404 unknown, 409 conflict with stored state, 422 the request itself is wrong

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"

    def at_item(self, index: int | None) -> "RuleViolation":
        """The same violation, located in item `index` of a batch (`items.<index>.<field>`)."""
        if index is None:
            return self
        return RuleViolation(f"items.{index}.{self.field}", self.rule, self.message, self.status)


def publishable_event(make_data, *, source: str, subject: str | None, field: str = "body"):
    """Build the event for a request, or a 422 naming `field` when the event contract refuses
    what the HTTP schema let through — a refused event must never become a 500."""
    from pydantic import ValidationError

    from styrkedja_contracts import ContractError, new_event

    try:
        return new_event(make_data(), source=source, subject=subject)
    except (ValidationError, ContractError) as error:
        raise RuleViolation(field, "event_contract", f"cannot be published as an event: {error}") from None
