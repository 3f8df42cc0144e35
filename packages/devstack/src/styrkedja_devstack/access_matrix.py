"""Helpers for the services' scope-matrix and token-attack tests: every route enumerated from the app
itself (so a new route without an expected answer fails its service's test), a token per role, and
the token attacks sent to every route.

Used as: `assert set(expected) == route_keys(app)`; then for every route × role × in/out of scope,
`use_token(client, role_token(issuer, role, organiser))` and the expected status.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from styrkedja_kit.auth import OPEN_PATHS, Role, api_routes

from .issuer import DevIssuer
from .testing import problem_fields, use_token
from .token_attacks import attack_authorizations

#: How a matrix test calls one route afresh: its path and body (None: no body).
Request = Callable[[], Awaitable[tuple[str, Any]]]

#: Every role the kit knows, in a stable order.
ROLES: tuple[str, ...] = tuple(r.value for r in Role)
_PARAM = re.compile(r"\{([^}]+)\}")
DUMMY_ID = "00000000-0000-4000-8000-000000000000"


def route_keys(app: Any, open_paths: Iterable[str] = OPEN_PATHS) -> set[str]:
    """`"METHOD /path/{param}"` for every API route of the app (as its OpenAPI document lists them)."""
    exempt = frozenset(open_paths)
    return {f"{method} {route.path}" for route in api_routes(app) if route.path not in exempt
            for method in route.methods if method != "HEAD"}


def fill(path: str, **values: str) -> str:
    """The path with its `{params}` filled from `values` (a dummy UUID for any not given)."""
    return _PARAM.sub(lambda m: values.get(m.group(1), DUMMY_ID), path)


def role_token(issuer: DevIssuer, role: str, organisers: Iterable[str], *, school_units: Iterable[str] = (),
               areas: Iterable[str] = (), groups: Iterable[str] = (), subject: str | None = None) -> str:
    """A token of one role; the client id of a platform is `platform-test`."""
    return issuer.mint(roles=[role], organisers=list(organisers), school_units=list(school_units),
                       areas=list(areas), groups=list(groups), subject=subject or f"test-{role}",
                       client_id="platform-test" if role == "platform" else None)


async def token_attack_failures(client: httpx.AsyncClient, app: Any, issuer: DevIssuer,
                                organisers: Iterable[str] = ("2999",)) -> list[str]:
    """Every attack of `attack_authorizations` on every route: each must be a 401 problem+json with a
    `WWW-Authenticate: Bearer` challenge. Returns what was not (empty when all were refused)."""
    failures = []
    attacks = attack_authorizations(issuer, organisers=organisers)
    for key in sorted(route_keys(app)):
        method, path = key.split(" ", 1)
        for name, header in attacks.items():
            headers = {"Authorization": header} if header is not None else {}
            body: dict[str, Any] | None = {} if method in ("POST", "PUT", "PATCH") else None
            response = await client.request(method, fill(path), json=body, headers=headers)
            challenge = response.headers.get("www-authenticate", "")
            if (response.status_code != 401 or not challenge.startswith("Bearer ")
                    or not response.headers.get("content-type", "").startswith("application/problem+json")):
                failures.append(f"{key} [{name}]: {response.status_code} {challenge!r}")
    return failures


async def table_counts(db: AsyncEngine, tables: Iterable[str]) -> tuple[int, ...]:
    """The number of rows in each of `tables` (a refused request must change none), in one statement (one
    round trip, however many tables: the matrices count before and after every refused cell)."""
    counts = ", ".join(f"(SELECT count(*) FROM {t})" for t in tables)
    async with db.connect() as conn:
        return tuple((await conn.execute(text(f"SELECT {counts}"))).one()) if counts else ()


async def scope_matrix_failures(client: httpx.AsyncClient, issuer: DevIssuer, db: AsyncEngine, *,
                                expected: Mapping[str, Collection[str]], requests: Mapping[str, Request],
                                tables: Iterable[str], organiser: str, other_organiser: str,
                                refusal_rules: Collection[str],
                                reaches_every_organiser: Collection[tuple[str, str]] = frozenset(),
                                hidden_out_of_scope: Collection[str] = frozenset(),
                                school_units: Iterable[str] = (), areas: Iterable[str] = (),
                                groups: Iterable[str] = ()) -> list[str]:
    """Every route of `expected` × every role × a token for `organiser` (in scope) or `other_organiser`
    (out of scope). A role in `expected[route]` that reaches the record (in scope, or the pair
    (route, role) in `reaches_every_organiser`) gets 200 or 201; any other gets a 403 whose problem names
    only `refusal_rules` and that stores nothing (no row count of `tables` changes) — but a role of
    `expected[route]` out of scope of a route of `hidden_out_of_scope` (one naming a stored record by its id) gets the
    404 of an id never stored, storing nothing. `requests[route]()`
    makes each call afresh; `school_units`, `areas` and `groups` are claims of every token.
    Returns what was not so (empty when all was)."""
    tables = tuple(tables)
    wrong: list[str] = []
    for route, allowed in sorted(expected.items()):
        method = route.split(" ", 1)[0]
        for role, in_scope in itertools.product(ROLES, (True, False)):
            path, body = await requests[route]()
            use_token(client, role_token(issuer, role, [organiser if in_scope else other_organiser],
                                         school_units=school_units, areas=areas, groups=groups))
            before = await table_counts(db, tables)
            response = await client.request(method, path, json=body)
            use_token(client, None)
            reaches = in_scope or (route, role) in reaches_every_organiser
            hidden = role in allowed and not reaches and route in hidden_out_of_scope
            statuses = (200, 201) if role in allowed and reaches else (404,) if hidden else (403,)
            where = f"{route} {role} {'in' if in_scope else 'out of'} scope"
            if response.status_code not in statuses:
                wrong.append(f"{where}: {response.status_code} (expected {statuses}) {response.text[:200]}")
            elif response.status_code == 404 and await table_counts(db, tables) != before:
                wrong.append(f"{where}: 404 but something was stored")
            elif response.status_code == 403:
                fields = problem_fields(response)
                if not fields or any(rule not in refusal_rules for _, rule in fields):
                    wrong.append(f"{where}: 403 naming {fields}, not only {sorted(refusal_rules)}")
                if await table_counts(db, tables) != before:
                    wrong.append(f"{where}: 403 but something was stored")
    return wrong
