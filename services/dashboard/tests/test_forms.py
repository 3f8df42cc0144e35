"""An empty field of a GET form is "not chosen", never a bad value (the filters send them all)."""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, Query
from fastapi.testclient import TestClient

from styrkedja_dashboard.web.forms import DropEmptyQueryValues, without_empty_values


def test_parameters_without_a_value_are_left_out_the_others_kept_as_sent():
    assert without_empty_values(b"huvudman=2120000142&amne=&omgang=&termin=HT") == b"huvudman=2120000142&termin=HT"
    assert without_empty_values(b"a&b=&c=%C3%A5") == b"c=%C3%A5"
    assert without_empty_values(b"") == b""


def test_an_empty_filter_reaches_the_route_as_not_chosen():
    app = FastAPI()
    app.add_middleware(DropEmptyQueryValues)

    @app.get("/")
    async def page(amne: Annotated[str | None, Query(pattern=r"^[A-Z0-9]{3,16}$")] = None,
                   omgang: Annotated[int | None, Query(ge=1, le=4)] = None) -> dict:
        return {"amne": amne, "omgang": omgang}

    client = TestClient(app)
    assert client.get("/?amne=&omgang=").json() == {"amne": None, "omgang": None}
    assert client.get("/?amne=GRGRMAT01&omgang=2").json() == {"amne": "GRGRMAT01", "omgang": 2}
    assert client.get("/?amne=x").status_code == 422  # a bad value is still refused
