"""Printing the report: at most `MAX_PRINTS` Chromiums at once, the rest told to come back (a fake Chromium that
writes a PDF after a while stands in for the browser)."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import pytest

from styrkedja_dashboard.report import pdf

FAKE = """#!/bin/sh
for a in "$@"; do case "$a" in --print-to-pdf=*) out="${a#--print-to-pdf=}";; esac; done
echo started >> "{log}"
sleep 1
echo '%PDF-1.4 fake' > "$out"
"""


@pytest.fixture
def chromium(tmp_path: Path) -> tuple[str, Path]:
    log = tmp_path / "started.log"
    script = tmp_path / "chromium"
    script.write_text(FAKE.replace("{log}", str(log)))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script), log


async def test_more_prints_at_once_than_allowed_are_refused_as_busy_not_started(chromium, tmp_path):
    """Failed on the old code: every request started a Chromium of its own, however many were running."""
    executable, log = chromium
    css = tmp_path / "app.css"
    css.write_text("body{}")
    answers = await asyncio.gather(*(pdf.html_to_pdf("<p>rapport</p>", css, chromium=executable, timeout=20)
                                     for _ in range(pdf.MAX_PRINTS + 4)), return_exceptions=True)
    printed = [a for a in answers if isinstance(a, bytes)]
    busy = [a for a in answers if isinstance(a, pdf.PdfBusy)]
    assert len(printed) == pdf.MAX_PRINTS and all(p.startswith(b"%PDF") for p in printed)
    assert len(busy) == 4 and len(log.read_text().splitlines()) == pdf.MAX_PRINTS
    # the gate opens again once they are done, failed prints included
    assert (await pdf.html_to_pdf("<p>igen</p>", css, chromium=executable, timeout=20)).startswith(b"%PDF")
    with pytest.raises(pdf.PdfUnavailable):
        await pdf.html_to_pdf("<p>x</p>", css, chromium=str(tmp_path / "missing"), timeout=5)
    assert pdf._gate.running == 0
