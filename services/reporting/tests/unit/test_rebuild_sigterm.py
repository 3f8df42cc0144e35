"""`styrkedja rebuild reporting` stopped by SIGTERM (a container stopped, `kill`) cleans up as Ctrl-C does: the
work is cancelled, so its `finally` blocks drop the rebuild's schema (`command.cancelled_on_sigterm`). Python's own
SIGTERM ended the process at once and left the `styrkedja_rebuild_*` schema behind."""

from __future__ import annotations

import subprocess
import sys

WORK = """
import asyncio, os, signal
from styrkedja_reporting.rebuild.command import cancelled_on_sigterm

async def rebuild():
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.sleep(30)
        print("not stopped")
    finally:
        print("schema dropped", flush=True)

try:
    asyncio.run(cancelled_on_sigterm(rebuild()))
except asyncio.CancelledError:
    print("cancelled")
"""


def test_sigterm_cancels_the_rebuild_so_that_its_cleanup_runs():
    done = subprocess.run([sys.executable, "-c", WORK], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, (done.returncode, done.stderr)
    assert done.stdout.split() == ["schema", "dropped", "cancelled"], done.stdout
