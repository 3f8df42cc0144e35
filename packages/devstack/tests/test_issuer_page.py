"""The dev issuer's sign-in page says what to type: the demo's organiser is a municipality code (2980),
not an organisation number, and a newcomer reads the hint before the README."""

from __future__ import annotations

from styrkedja_devstack.issuer import _sign_in_page


def test_the_organiser_hint_names_both_spellings_and_the_demo() -> None:
    page = _sign_in_page({"client_id": "styrkedja-dashboard"}).decode()
    hint = page.split('id="organisers-hint">', 1)[1].split("</p>", 1)[0]
    assert "Kommunkod" in hint and "2980" in hint and "NNNNNN-NNNN" in hint
