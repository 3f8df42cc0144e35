"""The nation as an organiser admin reads it (hostile round 24a).

Found and fixed: the organiser admin, whose figures are exact at every level (it may read every student of its
organiser), read the nation exactly too — and the nation is every organiser's students. The drill-down from the nation
listed each other organiser's figures exactly (an organiser of 3 students assessed: 3, reaching the pass level 2,
where the public, whose view the nation's is, reads it withheld), and the nation's total less its own gave the others
away. Now every read at nation level (figures, drill-down, results, support) is the public's view of it (small cells
withheld and their complements, by the public's one decision) unless every student the nation holds is of the
reader's organisers. Its own organiser the admin still reads exactly at organiser level.

Three organisers, one area, school unit and group each: 2999 with 12 students assessed, 3001 with 3, 3002 with 20."""

from __future__ import annotations

from datetime import date
from uuid import uuid5

import pytest

from styrkedja_kit.db import Database

from .test_directory import NS, Feeder, unit
from .test_figures import result

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

OWN, OTHER, THIRD = "2999", "3001", "3002"
PERIOD = {"school_year": "2026/27", "term": "HT", "subject_code": "GRGRMAT01"}


@pytest.fixture
async def fed(settings):
    database = Database(settings.database_url)
    events = [unit("organiser", o, o, None) for o in (OWN, OTHER, THIRD)]
    for organiser, code, n in ((OWN, "11111111", 12), (OTHER, "33333333", 3), (THIRD, "55555555", 20)):
        events += [unit("area", "north", organiser, organiser),
                   unit("school_unit", f"su-{code}", organiser, "north", code=code),
                   unit("group", "7A", organiser, f"su-{code}", code=code, year=7)]
        for i in range(n):
            events.append(result(uuid5(NS, f"nation-{organiser}-{i}"), 1, "C" if i % 3 else "F", organiser, code,
                                 "7A", f"s-{organiser}-{i}", gender="female" if i % 2 else "male", year=7,
                                 on=date(2026, 10, 1)))
    await Feeder(database)(events)
    yield database
    await database.dispose()


READS = [("/v1/figures/drill-down", {"level": "nation", **PERIOD}),
         ("/v1/figures/trend", {"level": "nation", **PERIOD}),
         ("/v1/figures/gender-gap", {"level": "nation", **PERIOD}),
         ("/v1/results/assessments", {"level": "nation", **PERIOD}),
         ("/v1/support/kinds", {"level": "nation", "unit_id": "SE", "subject_code": "GRGRMAT01"}),
         ("/v1/support/summary", {"level": "nation", "unit_id": "SE", "subject_code": "GRGRMAT01"})]


async def _read(client, headers, path: str, params: dict) -> object:
    response = await client.get(path, headers=headers, params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    return body["rows"] if isinstance(body, dict) and "rows" in body else body


async def test_an_organiser_admin_reads_no_other_organiser_exactly_from_the_nation(fed, bare_client, token_issuer):
    admin = {"Authorization": "Bearer " + token_issuer.mint(roles=["organiser_admin"], organisers=[OWN])}
    rows = await _read(bare_client, admin, *READS[0])
    other = [r for r in rows if r["unit_id"] == OTHER]
    assert [r["assessed"] for r in other] == [None], other


@pytest.mark.parametrize(("path", "params"), READS)
async def test_the_nation_reads_as_the_public_reads_it(fed, bare_client, token_issuer, path, params):
    admin = {"Authorization": "Bearer " + token_issuer.mint(roles=["organiser_admin"], organisers=[OWN])}
    public = {"Authorization": "Bearer " + token_issuer.mint(roles=["public"])}
    assert await _read(bare_client, admin, path, params) == await _read(bare_client, public, path, params)


async def test_the_admin_reads_its_own_organiser_exactly(fed, bare_client, token_issuer):
    admin = {"Authorization": "Bearer " + token_issuer.mint(roles=["organiser_admin"], organisers=[OWN])}
    rows = await _read(bare_client, admin, "/v1/figures/trend", {"level": "organiser", "organiser_id": OWN, **PERIOD})
    assert [(r["unit_id"], r["assessed"]) for r in rows] == [(OWN, 12)]


async def test_an_admin_of_every_organiser_the_nation_holds_reads_it_exactly(fed, bare_client, token_issuer):
    every = {"Authorization": "Bearer " + token_issuer.mint(roles=["organiser_admin"], organisers=[OWN, OTHER, THIRD])}
    rows = await _read(bare_client, every, *READS[0])
    assert sorted((r["unit_id"], r["assessed"]) for r in rows) == [(OWN, 12), (OTHER, 3), (THIRD, 20)]


async def test_the_admin_of_the_small_organisers_one_complement_cannot_work_it_out(fed, bare_client, token_issuer):
    """The public's decision withheld the 3 with the cheapest sibling, the admin's own 12: the nation's 35 less the
    20 shown less its own 12 gave the 3 back (`disclosure.INSIDER_SPLITS`)."""
    admin = {"Authorization": "Bearer " + token_issuer.mint(roles=["organiser_admin"], organisers=[OWN])}
    organisers = {r["unit_id"]: r["assessed"] for r in await _read(bare_client, admin, *READS[0])}
    [nation] = [r["assessed"] for r in await _read(bare_client, admin, *READS[1])]
    assert organisers[OTHER] is None
    if nation is not None:  # the nation shown: the small one is hidden by two others besides the admin's own
        assert [o for o, n in organisers.items() if n is None and o != OWN] != [OTHER], (nation, organisers)


async def test_an_admin_that_is_also_the_public_reads_another_organiser_as_the_public(fed, bare_client, token_issuer):
    """A token of both roles read another organiser (the public's reach) with the admin's exact figures (its most open
    role's view): the small organiser's 3 students exactly. Now the role of the widest reach decides."""
    both = {"Authorization": "Bearer " + token_issuer.mint(roles=["organiser_admin", "public"], organisers=[OWN])}
    rows = await _read(bare_client, both, "/v1/figures/trend", {"level": "organiser", "organiser_id": OTHER, **PERIOD})
    assert [(r["unit_id"], r["assessed"]) for r in rows] == [(OTHER, None)]


async def test_a_nation_read_narrowed_to_a_small_organiser_is_withheld_as_that_organiser_is(
        fed, bare_client, token_issuer):
    """The nation read with `organiser_id` is that organiser's share: the public read 3001's 3 students exactly
    (judged by the nation's decision, whose cell is large); now judged as 3001's own organiser cell."""
    public = {"Authorization": "Bearer " + token_issuer.mint(roles=["public"])}
    rows = await _read(bare_client, public, "/v1/results/assessments",
                       {"level": "nation", "organiser_id": OTHER, **PERIOD})
    assert rows and all(r["assessed"] is None for r in rows), rows


async def test_another_organisers_share_of_the_nation_is_read_as_that_organiser(fed, bare_client, token_issuer):
    politician = {"Authorization": "Bearer " + token_issuer.mint(roles=["politician"], organisers=[OWN])}
    response = await bare_client.get("/v1/results/assessments", headers=politician,
                                     params={"level": "nation", "organiser_id": OTHER, **PERIOD})
    assert response.status_code == 403, response.text
    assert response.json()["errors"][0]["field"] == "organiser_id"


async def test_the_admin_reads_its_own_share_of_the_nation_exactly(fed, bare_client, token_issuer):
    admin = {"Authorization": "Bearer " + token_issuer.mint(roles=["organiser_admin"], organisers=[OWN])}
    rows = await _read(bare_client, admin, "/v1/results/assessments", {"level": "nation", "organiser_id": OWN, **PERIOD})
    assert sum(r["assessed"] for r in rows) == 12, rows


@pytest.mark.parametrize("path", ["/v1/figures/trend", "/v1/figures/gender-gap", "/v1/figures/coverage"])
async def test_a_figure_of_the_nation_narrowed_to_one_organiser_is_its_exact_readers_alone(
        fed, bare_client, token_issuer, path):
    """The figures' nation narrowed to one organiser is that organiser's share: the public (and an admin of another
    organiser) read 3001's 3 students there exactly; now only a reader of 3001 exactly does, others get a 403."""
    params = {"level": "nation", "organiser_id": OTHER, **PERIOD}
    for roles, organisers in ((["public"], []), (["organiser_admin"], [OWN]), (["politician"], [OTHER])):
        headers = {"Authorization": "Bearer " + token_issuer.mint(roles=roles, organisers=organisers)}
        response = await bare_client.get(path, headers=headers, params=params)
        assert response.status_code == 403, (roles, response.text)
        assert response.json()["errors"][0]["field"] == "organiser_id"
    admin = {"Authorization": "Bearer " + token_issuer.mint(roles=["organiser_admin"], organisers=[OTHER])}
    rows = await _read(bare_client, admin, path, params)
    assert rows and all(r["unit_id"] == "SE" for r in rows), rows
    assert sum(r["assessed"] if "assessed" in r else r["with_result"] for r in rows) == 3, rows
