from __future__ import annotations

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]
DRAFT = {"organiser_id": "2999", "school_unit_code": "29990011", "school_form": "grundskola",
         "respondent_role": "rektor", "catalogue_version": "2026.1"}

async def ids(client, v, form="grundskola"):
    return [i["id"] for a in (await client.get(f"/v1/catalogue/{v}", params={"school_form": form})).json()["areas"] for i in a["indicators"]]

async def final(client, v, form="grundskola", rating="PLANNED", action="publish"):
    ii = await ids(client, v, form)
    sa = (await client.post("/v1/self-assessments", json=DRAFT | {"catalogue_version": v, "school_form": form})).json()["self_assessment_id"]
    r = await client.patch(f"/v1/self-assessments/{sa}/ratings", json={"ratings": [{"indicator_id": i, "rating": rating} for i in ii]})
    assert r.status_code == 200, r.text
    if action:
        r = await client.post(f"/v1/self-assessments/{sa}/{action}")
        assert r.status_code == 200, r.text
    return sa

async def test_probe(client, db):
    a = await final(client, "2026.1")
    b = await final(client, "2026.2", rating="ACHIEVED")
    c = await final(client, "2026.1", form="forskola")
    d = await final(client, "2026.2", rating="NOT_RELEVANT", action=None)
    for f, s in [(a, b), (b, a), (a, c), (a, d), (d, d)]:
        r = await client.get("/v1/self-assessments/compare", params={"first": f, "second": s})
        j = r.json()
        print("cmp", r.status_code, {k: j[k] for k in ("first_catalogue_version", "second_catalogue_version")} if r.status_code == 200 else r.text[:300])
        if r.status_code == 200:
            print("   only", j.get("only_in_first"), j.get("only_in_second"), len(j["indicators"]), [x["steps_apart"] for x in j["indicators"]][:5], j.get("discussion_points", [])[:3])
    r = await client.get(f"/v1/self-assessments/{b}/action-plan")
    print("plan all achieved", r.status_code, r.json()["total_items"])
    r = await client.get(f"/v1/self-assessments/{b}/action-plan/export.xlsx")
    print("export empty plan", r.status_code)
    r = await client.post(f"/v1/self-assessments/{d}/publish", json={"start_term": "VT 2199/00"})
    print("pub VT 2199/00", r.status_code, r.text[:200])
    r = await client.post(f"/v1/self-assessments/{d}/publish", json={"start_term": "VT 2198/99"})
    print("pub VT 2198/99", r.status_code, r.text[:200])
    r = await client.get(f"/v1/self-assessments/{d}")
    print("scores", r.json()["scores"][-1])
