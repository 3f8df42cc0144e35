"""The dev issuer's sign-in page says what to type: the demo's organiser is a municipality code (2980),
not an organisation number, and a newcomer reads the hint before the README."""

from __future__ import annotations

from styrkedja_devstack.issuer import _sign_in_page


def test_the_organiser_hint_names_both_spellings_and_the_demo() -> None:
    page = _sign_in_page({"client_id": "styrkedja-dashboard"}).decode()
    hint = page.split('id="organisers-hint">', 1)[1].split("</p>", 1)[0]
    assert "Kommunkod" in hint and "2980" in hint and "NNNNNN-NNNN" in hint


def test_a_client_gone_mid_answer_prints_no_traceback_but_a_real_fault_still_does(capsys):
    """Failed on the old code: socketserver printed a ConnectionResetError's traceback into `styrkedja run`'s
    terminal whenever a browser tab or a CLI stopped reading before the issuer's answer was written."""
    from styrkedja_devstack.issuer import _Server

    for error, printed in ((ConnectionResetError(104, "reset"), False), (BrokenPipeError(32, "pipe"), False),
                           (ValueError("a bug of ours"), True)):
        try:
            raise error
        except Exception:
            _Server.handle_error(object.__new__(_Server), None, ("127.0.0.1", 1))
        err = capsys.readouterr().err
        assert ("Traceback" in err) is printed, err
