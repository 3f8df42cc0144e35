"""Privacy round 29: a legitimate, signed-in reader combining what the API answers (differencing, across routes,
across time, scope edges), against a real reporting service on a real PostgreSQL (the report lists what was tried).

Found and fixed (each test failed on the old code, as said at it):
- An ICT coordinator read one school unit's compliance list of an assessment round — per teacher, per group and
  subject, with counts of the assessments expected, late and missing — while the same list of a forecast window
  refused it (`authorize(ORGANISER_ADMIN, AREA_MANAGER, PRINCIPAL)`): the round's doors took any reader
  (`authorize_read`) and judged the unit's level alone, which an ICT coordinator reads (its LIKA work). Who has
  not reported, teacher by teacher, is the list a principal reminds people with (DESIGN §5): now the round's doors
  take the readers the window's take.
"""

from __future__ import annotations

import pytest

from .test_compliance import DIRECTORY, ORG, UNIT, WINDOW
from .test_compliance_rounds import ASSESSMENTS, BASE, ROUND, calendar
from .test_directory import Feeder

pytestmark = pytest.mark.integration


def _token(token_issuer, role: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + token_issuer.mint(roles=[role], organisers=[ORG], school_units=[UNIT])}


async def test_an_ict_coordinator_reads_no_compliance_list_of_its_unit(client, database, token_issuer):
    """Failed on the old code: the round's unit list answered the ICT coordinator 200 with a row per teacher, where
    the window's refused it 403."""
    await Feeder(database)([calendar()] + DIRECTORY, ASSESSMENTS)
    ict, rektor = _token(token_issuer, "ict_coordinator"), _token(token_issuer, "principal")
    window = f"/v1/compliance/organisers/{ORG}/school-units/{UNIT}"
    for path, params in ((window, WINDOW), (f"{BASE}/{UNIT}", ROUND), (f"{BASE}/{UNIT}", {**ROUND, "list": "group"})):
        refused = await client.get(path, params=params, headers=ict)
        assert refused.status_code == 403, (path, refused.text)
        assert refused.json()["errors"][0]["field"] == "roles"
        read = await client.get(path, params=params, headers=rektor)  # the unit's principal reads it
        assert read.status_code == 200, (path, read.text)
    missing = await client.get(f"{BASE}/{UNIT}/items", params=ROUND, headers=ict)
    assert missing.status_code == 403
    assert (await client.get(BASE, params=ROUND, headers=ict)).status_code == 403
