"""The printable report as PDF: the same HTML page, printed by headless Chromium (Debian's
package; `--print-to-pdf`). The page and its stylesheet are written to a private temporary
folder and printed from there — no session, no token, no network for the browser."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

from styrkedja_kit.supervise import within


class PdfUnavailable(Exception):
    """No Chromium on this host (or it failed): the page itself can still be printed."""


class PdfBusy(PdfUnavailable):
    """As many Chromiums printing as the host is allowed: try again shortly."""


#: Chromiums printing at once. Each is a browser of a few hundred MB for up to `timeout` seconds, started by any
#: signed-in user's GET: without a bound, a reload loop (or a few people at once) took the host's memory.
MAX_PRINTS = 2


class _Gate:
    """How many prints are running; one event loop, so a plain counter is enough."""

    def __init__(self) -> None:
        self.running = 0


_gate = _Gate()


def _executable(chromium: str) -> str | None:
    return shutil.which(chromium) or (chromium if Path(chromium).exists() else None)


def _prepare(html: str, stylesheet: Path) -> Path:
    root = Path(tempfile.mkdtemp(prefix="styrkedja-report-"))
    (root / "static").mkdir()
    shutil.copy(stylesheet, root / "static" / "app.css")
    (root / "rapport.html").write_text(html.replace('href="/static/app.css"', 'href="static/app.css"'),
                                       encoding="utf-8")
    return root


def _result(out: Path) -> bytes | None:
    return out.read_bytes() if out.exists() and out.stat().st_size > 0 else None


async def html_to_pdf(html: str, stylesheet: Path, *, chromium: str, timeout: float = 60.0) -> bytes:
    executable = await asyncio.to_thread(_executable, chromium)
    if executable is None:
        raise PdfUnavailable(f"{chromium} saknas")
    if _gate.running >= MAX_PRINTS:
        raise PdfBusy("Flera rapporter skrivs ut just nu")
    _gate.running += 1
    try:
        return await _print(html, stylesheet, executable, timeout)
    finally:
        _gate.running -= 1


async def _print(html: str, stylesheet: Path, executable: str, timeout: float) -> bytes:
    root = await asyncio.to_thread(_prepare, html, stylesheet)
    try:
        out = root / "rapport.pdf"
        process = await asyncio.create_subprocess_exec(
            executable, "--headless", "--no-sandbox", "--disable-gpu", "--disable-extensions",
            "--disable-background-networking", "--no-first-run", f"--user-data-dir={root / 'profile'}",
            "--no-pdf-header-footer", f"--print-to-pdf={out}", (root / "rapport.html").as_uri(),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        try:
            await within(process.wait(), timeout)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise PdfUnavailable("Chromium svarade inte i tid") from None
        pdf = await asyncio.to_thread(_result, out)
        if pdf is None:
            raise PdfUnavailable(f"Chromium avslutades med kod {process.returncode}")
        return pdf
    finally:
        await asyncio.to_thread(shutil.rmtree, root, True)
