"""Publish Mittköping through the services' real HTTP APIs — never into a database.

* assessments and term grades: `POST /v1/assessments/batch` (ids fixed by the generator);
* forecasts: `POST /v1/forecasts/batch` (the service derives the id from the key);
* LIKA: `POST /v1/self-assessments` (a draft with a fixed id), `PATCH …/ratings`, `POST …/publish`,
  `PATCH …/action-plan/items/{activity}` for the statuses.

Idempotent: every id is fixed by the seed, a re-sent assessment or forecast is `unchanged`, a
self-assessment that is already final is left alone and only action-plan items whose status
differs are edited — so a second run changes nothing.

Tokens: each client carries a bearer token (a platform client's, for the organiser, on the
assessment and forecast services); LIKA is written by each school unit's own principal, so
`Services.lika_token` gives the token for a unit (else the LIKA client's own header is sent).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from .generator import LikaPlan, Municipality, action_statuses, lika_ratings

BATCH = 1000
IN_FLIGHT = 3  # batches sent at once per service: enough to keep two cores busy, not more

#: (phase, advanced by, total)
Tick = Callable[[str, int, int], None]
#: school unit code → a bearer token that may write that unit's LIKA
UnitToken = Callable[[str], str]


class PublishError(Exception):
    """A service refused something: what, and the problem it answered."""


@dataclass
class Summary:
    counts: dict[str, Counter] = field(default_factory=dict)

    def add(self, phase: str, **counts: int) -> None:
        self.counts.setdefault(phase, Counter()).update({k: v for k, v in counts.items() if v})

    def changed(self) -> int:
        """How many things this run stored or edited (0 on a second run)."""
        return sum(n for c in self.counts.values() for k, n in c.items() if k not in ("unchanged", "late"))


#: each request's wait (a batch of 1,000 may take a while on two cores); `styrkedja demo` names it when it runs out
TIMEOUT = httpx.Timeout(120)


def client(base_url: str, token: str | None = None, **kwargs: Any) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(base_url=base_url.rstrip("/"), headers=headers, timeout=TIMEOUT, **kwargs)


def _answer(response: httpx.Response) -> str:
    """What a refusal said, in one short line: a service's problem (RFC 9457) by its title and detail; anything else
    (a proxy's HTML page, another server at the URL) by its kind and size, not 600 characters of markup. A
    personal identity number in it is redacted (a hostile or misconfigured server's echo)."""
    from styrkedja_contracts.identifiers import redact_personal_identity_numbers

    kind = response.headers.get("content-type", "no content-type").split(";")[0].strip()
    try:
        problem = response.json() if "json" in kind else None
    except ValueError:
        problem = None
    if isinstance(problem, dict) and (problem.get("title") or problem.get("detail")):
        text = " ".join(str(problem.get(k)) for k in ("title", "detail") if problem.get(k))
        text = " ".join(text.split())
        text = text if len(text) <= 300 else text[:299] + "\u2026"
    else:
        text = f"({kind}, {len(response.content):,} bytes: not a Styrkedja service's answer; is the URL the service?)"
    return redact_personal_identity_numbers(text)[0]


def _check(response: httpx.Response, what: str, ok: Sequence[int] = (200, 201)) -> Any:
    if response.status_code not in ok:
        hint = (" (the token was refused: give --*-token, or start `styrkedja run` whose issuer in --state-dir "
                "signs them)" if response.status_code in (401, 403) else "")
        raise PublishError(f"{what}: HTTP {response.status_code} {_answer(response)}{hint}")
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:  # HTTP 200 from something else at the URL (a proxy's page): JSONDecodeError's traceback
        raise PublishError(f"{what}: HTTP {response.status_code} but not JSON {_answer(response)}") from None


async def _batches(http: httpx.AsyncClient, path: str, items: list[dict[str, Any]], phase: str, tick: Tick,
                   on_result: Callable[[dict[str, Any]], None]) -> None:
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(chunk: list[dict[str, Any]]) -> None:
        async with gate:
            body = _check(await http.post(path, json={"items": chunk}), f"{phase} ({path})")
        on_result(body)
        tick(phase, len(chunk), len(items))

    await _gather([one(items[i:i + BATCH]) for i in range(0, len(items), BATCH)])


async def _gather(jobs: list[Awaitable[None]]) -> None:
    tasks = [asyncio.ensure_future(job) for job in jobs]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()


async def publish_assessments(http: httpx.AsyncClient, muni: Municipality, summary: Summary, tick: Tick) -> None:
    def count(body: dict[str, Any]) -> None:
        summary.add("assessments", stored=body["stored"], unchanged=body["unchanged"])

    await _batches(http, "/v1/assessments/batch", muni.assessments, "assessments", tick, count)


async def publish_forecasts(http: httpx.AsyncClient, muni: Municipality, summary: Summary, tick: Tick) -> None:
    def count(body: dict[str, Any]) -> None:
        summary.add("forecasts", stored=body["stored"], unchanged=body["unchanged"],
                    late=sum(1 for item in body["items"] if item["late"] and item["status"] == "stored"))

    await _batches(http, "/v1/forecasts/batch", muni.forecasts, "forecasts", tick, count)


async def _indicators(http: httpx.AsyncClient, version: str, school_form: str,
                      headers: dict[str, str]) -> list[str]:
    body = _check(await http.get(f"/v1/catalogue/{version}", params={"school_form": school_form}, headers=headers),
                  "LIKA catalogue")
    return [i["id"] for area in body["areas"] for i in area["indicators"]]


async def _lika_one(http: httpx.AsyncClient, muni: Municipality, plan: LikaPlan, indicators: list[str],
                   headers: dict[str, str]) -> Counter:
    """What was done for one self-assessment (nothing, on a second run), as the unit's principal."""
    story = muni.story
    done: Counter = Counter()
    draft = {"self_assessment_id": plan.id, "organiser_id": muni.organiser_code, "school_unit_code": plan.unit_code,
             "school_form": plan.school_form, "respondent_role": plan.respondent_role,
             "catalogue_version": story.lika_catalogue, "assessed_on": story.lika_assessed_on.isoformat()}
    response = await http.post("/v1/self-assessments", json=draft, headers=headers)
    body = _check(response, f"LIKA draft of {plan.unit_code}")
    done["drafts_created"] += response.status_code == 201
    if body["status"] == "DRAFT":
        wanted = lika_ratings(plan, indicators)
        have = {r["indicator_id"]: r["rating"] for r in body["ratings"]}
        changed = [k for k, v in wanted.items() if have.get(k) != v]
        if changed:
            ratings = [{"indicator_id": k, "rating": wanted[k],
                        "comment": "Behöver en gemensam plan för hela skolan" if wanted[k] == "NOT_PLANNED" else None}
                       for k in changed]
            _check(await http.patch(f"/v1/self-assessments/{plan.id}/ratings", json={"ratings": ratings},
                                    headers=headers),
                   f"LIKA ratings of {plan.unit_code}")
            done["ratings_saved"] += len(ratings)
        if not plan.publish:
            return done
        _check(await http.post(f"/v1/self-assessments/{plan.id}/publish", json={"start_term": story.lika_start_term},
                               headers=headers),
               f"LIKA publish of {plan.unit_code}")
        done["published"] += 1
    elif body["status"] != "PUBLISHED":
        return done
    action_plan = _check(await http.get(f"/v1/self-assessments/{plan.id}/action-plan", headers=headers),
                         f"LIKA action plan of {plan.unit_code}")
    current = {item["activity_id"]: item["status"] for item in action_plan["items"]}
    for activity, status in action_statuses(plan, sorted(current), story).items():
        if current[activity] != status:
            _check(await http.patch(f"/v1/self-assessments/{plan.id}/action-plan/items/{activity}",
                                    json={"status": status}, headers=headers), f"LIKA action plan item {activity}")
            done["action_items_edited"] += 1
    return done


async def publish_lika(http: httpx.AsyncClient, muni: Municipality, summary: Summary, tick: Tick,
                       token_for: UnitToken | None = None) -> None:
    def headers(unit_code: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token_for(unit_code)}"} if token_for else {}

    forms = {p.school_form: p.unit_code for p in muni.lika}
    indicators = {form: await _indicators(http, muni.story.lika_catalogue, form, headers(unit))
                  for form, unit in forms.items()}
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(plan: LikaPlan) -> None:
        async with gate:
            done = await _lika_one(http, muni, plan, indicators[plan.school_form], headers(plan.unit_code))
        if done.total():
            summary.add("lika", **done)
        else:
            summary.add("lika", unchanged=1)
        tick("lika", 1, len(muni.lika))

    await _gather([one(plan) for plan in muni.lika])


@dataclass
class Services:
    """One client per service (base URL and, when given, its bearer token); `lika_token`: the token
    of a school unit's principal, by unit code (LIKA is written by each unit's own principal)."""

    assessment: httpx.AsyncClient
    forecast: httpx.AsyncClient
    lika: httpx.AsyncClient
    lika_token: UnitToken | None = None


async def publish(muni: Municipality, services: Services, tick: Tick | None = None) -> Summary:
    """Every phase in turn; the counts of what was stored and what was already there."""
    summary = Summary()
    quiet: Tick = lambda phase, n, total: None  # noqa: E731
    tick = tick or quiet
    await publish_assessments(services.assessment, muni, summary, tick)
    await publish_forecasts(services.forecast, muni, summary, tick)
    await publish_lika(services.lika, muni, summary, tick, services.lika_token)
    return summary


PHASES = ("assessments", "forecasts", "lika")


def phase_totals(muni: Municipality) -> dict[str, int]:
    return {"assessments": len(muni.assessments), "forecasts": len(muni.forecasts), "lika": len(muni.lika)}
