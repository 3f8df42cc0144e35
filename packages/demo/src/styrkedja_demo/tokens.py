"""The bearer tokens the demo sends, each of the least role that does the job: a platform client's
for Mittköping (assessments, forecasts, the directory import) and each school unit's principal's for
its own LIKA self-assessment. Signed by the dev OIDC issuer (`styrkedja run` keeps its key in the
state dir), or given by the caller when the services trust another provider."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

PLATFORM_CLIENT = "mittkoping-platform"
TTL_SECONDS = 2 * 3600  # the default size takes minutes; a token outlives the run


class Minter(Protocol):
    def mint(self, **claims: object) -> str: ...


@dataclass
class DemoTokens:
    platform: str | None
    #: school unit code → the token of its principal (None: send no token)
    principal: Callable[[str], str] | None = None
    _cache: dict[str, str] = field(default_factory=dict)

    @classmethod
    def minted(cls, minter: Minter, organiser_id: str) -> DemoTokens:
        platform = minter.mint(roles=["platform"], organisers=[organiser_id], subject=PLATFORM_CLIENT,
                               client_id=PLATFORM_CLIENT, ttl_seconds=TTL_SECONDS)
        tokens = cls(platform)

        def principal(unit_code: str) -> str:
            if unit_code not in tokens._cache:
                tokens._cache[unit_code] = minter.mint(
                    roles=["principal"], organisers=[organiser_id], school_units=[unit_code],
                    subject=f"rektor-{unit_code}", ttl_seconds=TTL_SECONDS)
            return tokens._cache[unit_code]

        tokens.principal = principal
        return tokens


def role_examples(organiser_id: str, *, area_id: str, school_unit_code: str, group: str) -> list[tuple[str, str]]:
    """(role, `styrkedja token` arguments) for each role that reads, with ids from the demo."""
    o = f"--organiser {organiser_id}"
    return [("organiser_admin", f"--role organiser_admin {o}"),
            ("area_manager", f"--role area_manager {o} --area {area_id}"),
            ("principal", f"--role principal {o} --school-unit {school_unit_code}"),
            ("teacher", f"--role teacher {o} --group {group}"),
            ("politician", f"--role politician {o}"), ("public", "--role public"),
            ("ops", "--role ops")]
