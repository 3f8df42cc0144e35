"""Who is calling: the `Principal` built from a verified token's claims.

Claim names (any OIDC provider can emit them; `deploy/keycloak` shows Keycloak's mappers):

| claim          | type                    | meaning                                                         |
|----------------|-------------------------|-----------------------------------------------------------------|
| `sub`          | string                  | the user or client (never a personal identity number)           |
| `azp` / `client_id` | string             | the OAuth client the token was issued to (platform clients)     |
| `roles`        | array of strings        | Styrkedja roles, see `Role`; unknown values are ignored         |
| `organisers`   | array of strings        | organiser ids (huvudman) the caller belongs to / writes for; any spelling of an organisation number, kept as `NNNNNN-NNNN` |
| `areas`        | array of strings        | area ids (verksamhetsområden) of an area manager                |
| `school_units` | array of strings        | school unit codes (skolenhetskoder) of a principal              |
| `groups`       | array of `UNIT/GROUP`   | teaching groups of a teacher                                    |

A single string is accepted wherever an array is expected (some providers flatten one-element
lists). Teachers' groups and principals' units may instead come from the directory that the
reporting service keeps (teaching assignments, SS 12000 duties): see `Principal.with_directory`.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from pydantic_core import PydanticCustomError

from styrkedja_contracts.identifiers import canonical_organiser_id, check_text


class Role(enum.StrEnum):
    PLATFORM = "platform"  # a school platform's client (client credentials)
    TEACHER = "teacher"
    PRINCIPAL = "principal"  # rektor
    ICT_COORDINATOR = "ict_coordinator"  # IT-samordnare: LIKA of its own school units
    AREA_MANAGER = "area_manager"  # verksamhetschef
    ORGANISER_ADMIN = "organiser_admin"  # huvudmannens förvaltning
    POLITICIAN = "politician"
    PUBLIC = "public"
    OPS = "ops"


class Level(enum.IntEnum):
    """The levels of the chain, from the student up. Ordered: a higher level aggregates lower ones."""

    STUDENT = 0
    GROUP = 1
    SCHOOL_UNIT = 2
    AREA = 3
    ORGANISER = 4
    NATION = 5


class InvalidClaims(ValueError):
    """The token verified, but its scope claims are malformed: treated like a bad token (401)."""


# matched whole (`fullmatch`): `re.match` with `$` also takes a value ending in a newline ("2180\n"), a scope
# spelled unlike every id a request or the directory names (never more reach, but never a valid claim either)
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_UNIT = re.compile(r"[0-9]{8}")


@dataclass(frozen=True)
class GroupRef:
    school_unit_code: str
    group_id: str

    def __str__(self) -> str:
        return f"{self.school_unit_code}/{self.group_id}"

    @classmethod
    def parse(cls, text: str) -> GroupRef:
        unit, sep, group = text.partition("/")
        if not sep or not _UNIT.fullmatch(unit) or not _ID.fullmatch(group):
            raise InvalidClaims(f"groups: {text!r} is not SCHOOLUNITCODE/GROUP")
        return cls(unit, group)


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[Role]
    organisers: frozenset[str] = frozenset()
    areas: frozenset[str] = frozenset()
    school_units: frozenset[str] = frozenset()
    groups: frozenset[GroupRef] = frozenset()
    client_id: str | None = None

    def has(self, *roles: Role) -> bool:
        return not self.roles.isdisjoint(roles)

    def with_directory(self, *, school_units: Iterable[str] = (), groups: Iterable[GroupRef] = ()) -> Principal:
        """The same principal with the units and groups the directory assigns to it added
        (a principal's units from SS 12000 duties, a teacher's groups from teaching assignments)."""
        return replace(self, school_units=self.school_units | frozenset(school_units),
                       groups=self.groups | frozenset(groups))


def _strings(claims: Mapping[str, Any], name: str, pattern: re.Pattern[str] | None = None) -> frozenset[str]:
    value = claims.get(name)
    if value is None:
        return frozenset()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or len(value) > 10_000 or not all(isinstance(v, str) for v in value):
        raise InvalidClaims(f"{name}: must be an array of strings")
    for v in value:
        # the text rules first (`_who`'s): an `areas` or `groups` claim holding a personal identity number was
        # taken (round 17), and the pattern's refusal below repeats the value
        try:
            check_text(v)
        except PydanticCustomError as error:
            raise InvalidClaims(f"{name}: {error.message()} ({error.type})") from None
        if pattern is not None and not pattern.fullmatch(v):
            raise InvalidClaims(f"{name}: {v[:70]!r} is not a valid identifier")
    return frozenset(value)


#: the longest `sub` / `azp` kept (the audit trail's columns hold 255 characters)
MAX_SUBJECT_CHARS = 255


def _who(name: str, value: str) -> str:
    """`sub` or `azp` as the services keep it (audit trail, `changed_by`, `acknowledged_by`): the text
    rules of every input — no personal identity number in any spelling (an identity provider behind
    BankID may put one there), no control characters or lone surrogates (PostgreSQL cannot store
    them) — and a length a column holds. The value is never repeated in the error."""
    if len(value) > MAX_SUBJECT_CHARS:
        raise InvalidClaims(f"{name}: longer than {MAX_SUBJECT_CHARS} characters")
    try:
        check_text(value)
    except PydanticCustomError as error:
        raise InvalidClaims(f"{name}: {error.message()} ({error.type})") from None
    return value


def _organisers(claims: Mapping[str, Any]) -> frozenset[str]:
    """The `organisers` claim in the one spelling requests and events carry (`212000-1234`, whichever the
    issuer wrote): compared as is by every scope check, a claim `2120001234` would neither reach nor write
    the organiser's data. What the spelling makes a personal identity number ("16" + one, a sole trader's
    number) is refused like one in `sub`; the value is never repeated."""
    kept = frozenset(canonical_organiser_id(v) for v in _strings(claims, "organisers", _ID))
    for organiser in kept:
        try:
            check_text(organiser)
        except PydanticCustomError as error:
            raise InvalidClaims(f"organisers: {error.message()} ({error.type})") from None
    return kept


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise InvalidClaims("sub: missing")
    _who("sub", subject)
    known = {r.value for r in Role}
    roles = frozenset(Role(r) for r in _strings(claims, "roles") if r in known)
    for name in ("azp", "client_id"):
        # OIDC Core §2: a string. A list or a number was read as no client at all, the token then standing for
        # its `sub`: which client wrote must never be a guess
        if claims.get(name) is not None and not isinstance(claims[name], str):
            raise InvalidClaims(f"{name}: must be a string")
    client = claims.get("azp") or claims.get("client_id")
    if isinstance(client, str):
        _who("azp" if claims.get("azp") else "client_id", client)
    return Principal(
        subject=subject,
        roles=roles,
        organisers=_organisers(claims),
        areas=_strings(claims, "areas", _ID),
        school_units=_strings(claims, "school_units", _UNIT),
        groups=frozenset(GroupRef.parse(g) for g in _strings(claims, "groups")),
        client_id=client if isinstance(client, str) else None,
    )
