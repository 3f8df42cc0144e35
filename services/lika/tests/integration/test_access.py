"""Access to the LIKA service: every route of the app × every role × own unit / another unit of the
same organiser / another organiser → the expected status; a refused write changes nothing (every
table's content and the outbox compared); the token attacks on every route → 401.

Writers: the unit's principal or ICT coordinator, and the organiser admin for any unit of its
organiser. Readers: the unit (principal, ICT coordinator, teacher), the organiser admin, an area
manager for the published ones of the units its token lists. The catalogue is reference data: any
role. Politicians, the public, platforms and ops get nothing else here."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import text

from styrkedja_devstack import testing
from styrkedja_devstack.access_matrix import ROLES, fill, role_token, route_keys, token_attack_failures
from styrkedja_devstack.testing import problem_fields, use_token
from styrkedja_kit.auth import routes_without_guard

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

ORG, OTHER_ORG = "2999", "1480"
UNIT, SIBLING = "29990011", "29990022"
TABLES = ("self_assessments", "self_assessment_ratings", "action_plans", "action_plan_items", "outbox")
SCOPES = ("own unit", "other unit, same organiser", "other organiser")

WRITERS = frozenset({"principal", "ict_coordinator", "organiser_admin"})
READERS = frozenset({"principal", "ict_coordinator", "teacher", "area_manager", "organiser_admin"})
EVERYONE = frozenset(ROLES)
# route → (the roles it admits at all, the status they get for their own unit)
EXPECTED: dict[str, tuple[frozenset[str], int]] = {
    "GET /v1/catalogue": (EVERYONE, 200),
    "GET /v1/catalogue/{version}": (EVERYONE, 200),
    "GET /v1/self-assessments": (READERS, 200),
    "GET /v1/self-assessments/compare": (READERS, 200),
    "GET /v1/self-assessments/{self_assessment_id}": (READERS, 200),
    "GET /v1/self-assessments/{self_assessment_id}/action-plan": (READERS, 200),
    "GET /v1/self-assessments/{self_assessment_id}/action-plan/export.xlsx": (READERS, 200),
    "GET /v1/self-assessments/{self_assessment_id}/export.xlsx": (READERS, 200),
    "POST /v1/self-assessments": (WRITERS, 201),
    "POST /v1/self-assessments/published": (WRITERS, 201),
    "PATCH /v1/self-assessments/{self_assessment_id}/ratings": (WRITERS, 200),
    "DELETE /v1/self-assessments/{self_assessment_id}/ratings/{indicator_id}": (WRITERS, 204),
    "POST /v1/self-assessments/{self_assessment_id}/publish": (WRITERS, 200),
    "POST /v1/self-assessments/{self_assessment_id}/keep-private": (WRITERS, 200),
    "PATCH /v1/self-assessments/{self_assessment_id}/action-plan/items/{activity_id}": (WRITERS, 200),
}
REFERENCE_DATA = {"GET /v1/catalogue", "GET /v1/catalogue/{version}"}


#: what only the unit itself does (its principal or ICT coordinator): the organiser admin may not, even where it reads
UNIT_ONLY = {"POST /v1/self-assessments/{self_assessment_id}/keep-private"}


def expected_status(route: str, role: str, scope: str) -> int:
    roles, status = EXPECTED[route]
    if role not in roles:
        return 403
    if route in UNIT_ONLY and role == "organiser_admin" and scope != "other organiser":
        return 403
    if route in REFERENCE_DATA or scope == "own unit":
        return status
    # the organiser admin is bound to its organiser, not to units
    if scope == "other unit, same organiser" and role == "organiser_admin":
        return status
    # a self-assessment the caller may not read is answered as an id never stored (access/rules.py)
    return 404 if "{self_assessment_id}" in route or route.endswith("/compare") else 403


def token(issuer, role: str, scope: str) -> str:
    unit = SIBLING if scope == "other unit, same organiser" else UNIT
    organiser = OTHER_ORG if scope == "other organiser" else ORG
    units = () if role == "organiser_admin" else (unit,)
    return role_token(issuer, role, [organiser], school_units=units, areas=["north"], groups=[f"{unit}/7A"])


def draft(**overrides) -> dict:
    return {"organiser_id": ORG, "school_unit_code": UNIT, "school_form": "grundskola",
            "respondent_role": "rektor", "catalogue_version": "2026.1"} | overrides


async def snapshot(db) -> tuple[str, ...]:
    """Every table's whole content, as a digest: equal before and after = nothing stored or changed."""
    digests = ", ".join(f"(SELECT coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') FROM {table} t)"
                        for table in TABLES)
    async with db.connect() as conn:  # one statement, one round trip: it is taken twice for every refused cell
        return tuple((await conn.execute(text(f"SELECT {digests}"))).one())


Request = Callable[[], Awaitable[tuple[str, dict | None]]]


class World:
    """What the requests act on, made with the own unit's principal: a published self-assessment of
    UNIT with its action plan, and fresh drafts on demand. A draft a refused request left as it was
    (`unchanged`: every table's digest equal) is handed to the next request of its kind instead of a new
    one: to that request it is as fresh as a new one, and a refusal is most cells of a write route."""

    def __init__(self, client, owner: str) -> None:
        self.client, self.owner = client, owner
        self.headers = testing.bearer(owner)
        self.ids: list[str] = []
        self.published = self.activity = ""
        self.spare: dict[str, str] = {}  # kind of draft → one a refused request left as it was
        self.last: tuple[str, str] | None = None  # (kind, id) of the draft the latest request was made with

    async def draft_of(self, kind: str) -> str:
        sa_id = self.spare.pop(kind, None) or await self.new_draft(complete=kind == "complete", rated=kind == "rated")
        self.last = (kind, sa_id)
        return sa_id

    def unchanged(self) -> None:
        """The latest request was refused and changed nothing: its draft serves the next one of its kind."""
        if self.last:
            self.spare.setdefault(*self.last)

    async def call(self, method: str, path: str, body: dict | None = None) -> dict:
        response = await self.client.request(method, path, json=body, headers=self.headers)
        assert response.status_code < 300, response.text
        return response.json() if response.content and response.headers["content-type"].endswith("json") else {}

    async def new_draft(self, *, complete: bool = False, rated: bool = False) -> str:
        sa_id = (await self.call("POST", "/v1/self-assessments", draft()))["self_assessment_id"]
        ratings = self.ids if complete else self.ids[:1] if rated else []
        if ratings:
            await self.call("PATCH", f"/v1/self-assessments/{sa_id}/ratings",
                            {"ratings": [{"indicator_id": i, "rating": "PLANNED"} for i in ratings]})
        return sa_id

    async def start(self) -> None:
        catalogue = await self.call("GET", "/v1/catalogue/2026.1?school_form=grundskola")
        self.ids = [i["id"] for area in catalogue["areas"] for i in area["indicators"]]
        self.published = await self.new_draft(complete=True)
        await self.call("POST", f"/v1/self-assessments/{self.published}/publish")
        plan = await self.call("GET", f"/v1/self-assessments/{self.published}/action-plan")
        self.activity = plan["items"][0]["activity_id"]

    def requests(self) -> dict[str, Request]:
        p = self.published
        statuses = itertools.cycle(["done", "in_progress"])

        def fixed(path: str, body: dict | None = None) -> Request:
            async def make() -> tuple[str, dict | None]:
                return path, body
            return make

        async def delete_rating() -> tuple[str, dict | None]:
            sa_id = await self.draft_of("rated")
            return f"/v1/self-assessments/{sa_id}/ratings/{self.ids[0]}", None

        def finalise(action: str) -> Request:
            async def make() -> tuple[str, dict | None]:
                return f"/v1/self-assessments/{await self.draft_of('complete')}/{action}", {}
            return make

        async def save() -> tuple[str, dict | None]:
            return f"/v1/self-assessments/{await self.draft_of('empty')}/ratings", {
                "ratings": [{"indicator_id": self.ids[0], "rating": "STARTED"}]}

        async def edit() -> tuple[str, dict | None]:
            return fill("/v1/self-assessments/{p}/action-plan/items/{a}", p=p, a=self.activity), {
                "status": next(statuses)}

        return {
            "GET /v1/catalogue": fixed("/v1/catalogue"),
            "GET /v1/catalogue/{version}": fixed("/v1/catalogue/2026.1"),
            "GET /v1/self-assessments": fixed(f"/v1/self-assessments?organiser_id={ORG}&school_unit_code={UNIT}"),
            "GET /v1/self-assessments/compare": fixed(f"/v1/self-assessments/compare?first={p}&second={p}"),
            "GET /v1/self-assessments/{self_assessment_id}": fixed(f"/v1/self-assessments/{p}"),
            "GET /v1/self-assessments/{self_assessment_id}/action-plan": fixed(f"/v1/self-assessments/{p}/action-plan"),
            "GET /v1/self-assessments/{self_assessment_id}/action-plan/export.xlsx":
                fixed(f"/v1/self-assessments/{p}/action-plan/export.xlsx"),
            "GET /v1/self-assessments/{self_assessment_id}/export.xlsx": fixed(f"/v1/self-assessments/{p}/export.xlsx"),
            "POST /v1/self-assessments": fixed("/v1/self-assessments", draft()),
            "POST /v1/self-assessments/published": fixed("/v1/self-assessments/published", draft(ratings=[
                {"indicator_id": "GR-LED-01", "area": "ledning", "rating": "STARTED"}])),
            "PATCH /v1/self-assessments/{self_assessment_id}/ratings": save,
            "DELETE /v1/self-assessments/{self_assessment_id}/ratings/{indicator_id}": delete_rating,
            "POST /v1/self-assessments/{self_assessment_id}/publish": finalise("publish"),
            "POST /v1/self-assessments/{self_assessment_id}/keep-private": finalise("keep-private"),
            "PATCH /v1/self-assessments/{self_assessment_id}/action-plan/items/{activity_id}": edit,
        }


async def test_every_route_declares_a_guard_and_has_an_expected_answer(settings):
    async with testing.app_and_client("styrkedja_lika", settings) as (app, _):
        assert routes_without_guard(app) == []
        assert set(EXPECTED) == route_keys(app)


async def test_scope_matrix_every_route_every_role_own_unit_other_unit_other_organiser(settings, token_issuer, db):
    wrong: list[str] = []
    async with testing.app_and_client("styrkedja_lika", settings) as (app, client):
        world = World(client, token(token_issuer, "principal", "own unit"))
        await world.start()
        requests = world.requests()
        assert set(requests) == route_keys(app) == set(EXPECTED)
        for route in sorted(EXPECTED):
            method = route.split(" ", 1)[0]
            for role, scope in itertools.product(ROLES, SCOPES):
                world.last = None
                path, body = await requests[route]()
                use_token(client, token(token_issuer, role, scope))
                before = await snapshot(db)
                response = await client.request(method, path, json=body)
                use_token(client, None)
                expected = expected_status(route, role, scope)
                if response.status_code != expected:
                    wrong.append(f"{route} {role} ({scope}): {response.status_code}, expected {expected}: "
                                 f"{response.text[:160]}")
                elif expected in (403, 404):
                    assert problem_fields(response), response.text
                    if await snapshot(db) != before:
                        wrong.append(f"{route} {role} ({scope}): {expected}, but something was stored or changed")
                    else:
                        world.unchanged()
    assert not wrong, f"{len(wrong)} wrong:\n" + "\n".join(wrong)


async def test_token_attacks_on_every_route_are_401(settings, token_issuer):
    async with testing.app_and_client("styrkedja_lika", settings) as (app, client):
        assert await token_attack_failures(client, app, token_issuer) == []
