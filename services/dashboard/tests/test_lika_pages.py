"""The LIKA page reads a unit's self-assessments page by page, as the LIKA service gives them (follow-up of LIKA's
round 26: the list pages, `Link: <…&after=ID>; rel="next"`). In-process against a fake LIKA service."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from styrkedja_dashboard.app import create_app
from styrkedja_dashboard.settings import DashboardSettings
from styrkedja_dashboard.web.sessions import COOKIE
from styrkedja_kit.auth import principal_from_claims

ORGANISER, UNIT = "212000-0142", "12345678"
IDS = [str(uuid.UUID(int=n + 1)) for n in range(5)]


def _summary(sa_id: str, day: int) -> dict[str, Any]:
    return {"self_assessment_id": sa_id, "organiser_id": ORGANISER, "school_unit_code": UNIT,
            "school_form": "grundskola", "respondent_role": "rektor", "catalogue_version": "2026.1",
            "status": "DRAFT", "origin": "tool", "assessed_on": f"2026-10-{day:02d}",
            "created_at": f"2026-10-{day:02d}T08:00:00+00:00", "updated_at": f"2026-10-{day:02d}T08:00:00+00:00",
            "published_at": None, "rated": 1, "indicators": 40}


def lika(pages: dict[str | None, tuple[list[int], str | None]], asked: list[dict[str, str]]
         ) -> Callable[[httpx.Request], httpx.Response]:
    """A LIKA service (and a reporting knowing nothing) answering the list's page after `after` with the
    self-assessments of those indexes and a next page after the id named (None: the last page)."""
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/self-assessments":
            asked.append(dict(request.url.params))
            indexes, following = pages[request.url.params.get("after")]
            headers = {"Link": f'</v1/self-assessments?organiser_id={ORGANISER}&school_unit_code={UNIT}'
                               f'&after={following}>; rel="next"'} if following else {}
            return httpx.Response(200, json=[_summary(IDS[i], i + 1) for i in indexes], headers=headers)
        if request.url.path.endswith("/tree") or request.url.path == "/v1/lika/school-units":
            return httpx.Response(200, json=[])
        return httpx.Response(404, json={"detail": "not here"})
    return answer


@pytest.fixture
def dashboard() -> Iterator[Callable[..., TestClient]]:
    settings = DashboardSettings(reporting_url="http://reporting.test", lika_url="http://lika.test",
                                 issuer="http://issuer.test")
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8100", raise_server_exceptions=False) as client:
        def signed_in(upstream: Callable[[httpx.Request], httpx.Response], organisers: list[str] | None = None
                      ) -> TestClient:
            client.app.state.http = httpx.AsyncClient(transport=httpx.MockTransport(upstream))  # type: ignore[attr-defined]
            session = client.app.state.sessions._new()  # type: ignore[attr-defined]
            session.token, session.token_expires_at = "opaque-token", time.time() + 600
            session.principal = principal_from_claims({"sub": "u-1", "roles": ["organiser_admin"],
                                                        "organisers": [ORGANISER] if organisers is None
                                                        else organisers})
            client.cookies.set(COOKIE, session.id)
            return client
        yield signed_in


def test_every_page_of_a_units_self_assessments_is_shown_and_the_newest_two_offered(dashboard):
    """Failed on the old code: the page showed the first page alone (the oldest two) and offered those to compare,
    the unit's newest self-assessments not shown."""
    asked: list[dict[str, str]] = []
    page = dashboard(lika({None: ([0, 1], IDS[1]), IDS[1]: ([2, 3], IDS[3]), IDS[3]: ([4], None)}, asked)).get(
        f"/lika?huvudman={ORGANISER}&enhet={UNIT}")
    assert page.status_code == 200, page.text[:500]
    assert all(sa_id in page.text for sa_id in IDS)
    assert f'name="andra" value="{IDS[4]}" id="s-5" checked' in page.text  # the newest, against the one before it
    assert f'name="forsta" value="{IDS[3]}" id="f-4" checked' in page.text
    # the first page as a client that never pages asks it; the next ones by `after`, the service's largest page
    assert asked == [{"organiser_id": ORGANISER, "school_unit_code": UNIT}] + [
        {"organiser_id": ORGANISER, "school_unit_code": UNIT, "after": after, "limit": "1000"}
        for after in (IDS[1], IDS[3])]


def test_a_service_naming_the_same_page_again_is_a_502_naming_it_never_read_for_ever(dashboard):
    """Failed on the old code (the second page was never asked: the same as no paging at all, only the first page
    shown); a next page naming the one just read would be read without end."""
    page = dashboard(lika({None: ([0], IDS[0]), IDS[0]: ([1], IDS[0])}, [])).get(
        f"/lika?huvudman={ORGANISER}&enhet={UNIT}")
    assert page.status_code == 502 and "samma sida igen" in page.text, page.text[:500]


def test_a_login_without_an_organiser_is_told_so_as_on_every_other_page(dashboard):
    """The pages' one rule (`web.pages.organiser_of`). Failed on the old code: LIKA's page had a copy of its own,
    which told a login without any organiser that it may not read "that organiser" (none was named)."""
    page = dashboard(lika({None: ([0], None)}, []), organisers=[]).get(f"/lika?enhet={UNIT}")
    assert page.status_code == 403 and "Din inloggning saknar huvudman." in page.text, page.text[:500]
    named = dashboard(lika({None: ([0], None)}, []), organisers=[]).get(f"/lika?huvudman={ORGANISER}&enhet={UNIT}")
    assert named.status_code == 403 and "inte behörighet till den huvudmannen" in named.text, named.text[:500]
