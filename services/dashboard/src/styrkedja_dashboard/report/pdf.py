"""The printable report as PDF: the same HTML page, printed by headless Chromium (Debian's
package; `--print-to-pdf`). The page and its stylesheet are written to a private temporary
folder and printed from there — no session, no token, no network for the browser."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path


class PdfUnavailable(Exception):
    """No Chromium on this host (or it failed): the page itself can still be printed."""


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
    root = await asyncio.to_thread(_prepare, html, stylesheet)
    try:
        out = root / "rapport.pdf"
        process = await asyncio.create_subprocess_exec(
            executable, "--headless", "--no-sandbox", "--disable-gpu", "--disable-extensions",
            "--disable-background-networking", "--no-first-run", f"--user-data-dir={root / 'profile'}",
            "--no-pdf-header-footer", f"--print-to-pdf={out}", (root / "rapport.html").as_uri(),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        try:
            await asyncio.wait_for(process.wait(), timeout)
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
