"""Prometheus's multiprocess mode for uvicorn's sibling workers (`--workers N`, `WEB_CONCURRENCY`).

Each worker is a process of its own with its own counters: a scrape of the metrics listener (bound by the first worker)
or of `/metrics` on the app port (answered by whichever worker took the connection) told one worker's requests, applies
and cache bytes. In multiprocess mode every worker writes its values to memory-mapped files in one directory
(`PROMETHEUS_MULTIPROC_DIR`) and a scrape, by any worker, reads all of them (`MultiProcessCollector`): counters and
histograms summed over every worker that ever ran under this supervisor, gauges as each declares (`multiprocess_mode`,
kit metrics.py).

The directory is the supervisor's: `<metrics_dir>/<supervisor pid>-<its start time>`, so it is fresh on every start of
uvicorn (a container restarted in the same pod, whose pids begin again at 1, gets another one: the start time
differs) and needs no start script — uvicorn has no hook to run one, and the images start `uvicorn` itself. A worker
makes it before `prometheus_client` is imported (the library picks its value class at import), and removes the
directories of supervisors no longer running. Only a process a supervisor started (`multiprocessing.parent_process()`,
as `app.sibling_workers_lock_key` tells siblings) takes part: one process (no `--workers`, a test, a pod with
`WEB_CONCURRENCY=1`) keeps its counters in memory, as before. `PROMETHEUS_MULTIPROC_DIR` set by the operator wins
(then the operator wipes it between starts, as prometheus_client's documentation asks).

No `prometheus_client` import at module level here: this runs before it may be imported.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import MutableMapping

ENV = "PROMETHEUS_MULTIPROC_DIR"
#: where the supervisors' directories are made (a tmpfs in the images: compose's `tmpfs: [/tmp]`, k8s's emptyDir)
SETTING = "STYRKEDJA_METRICS_DIR"
_SUPERVISOR_DIR = re.compile(r"(\d+)-(\d*)")
_LIVE_FILE = re.compile(r"gauge_live[a-z]+_(\d+)\.db")


def default_base() -> str:
    return os.path.join(tempfile.gettempdir(), "styrkedja-metrics")


def prepare(environ: MutableMapping[str, str] = os.environ) -> str | None:
    """Before `prometheus_client` is imported: the directory this worker's metrics go to (set as `PROMETHEUS_MULTIPROC_DIR`),
    or None (one process: in memory)."""
    if environ.get(ENV):
        return environ[ENV]
    parent = multiprocessing.parent_process()
    if parent is None or parent.pid is None:
        return None
    base = environ.get(SETTING) or default_base()
    if not os.path.isabs(base):  # relative to what: the worker's working directory is no one's choice
        raise ValueError(f"{SETTING}={base!r}: an absolute path (where the workers' metrics files go)")
    if "prometheus_client.values" in sys.modules:  # too late: this worker's values would stay in its memory
        raise RuntimeError("prometheus_client was imported before styrkedja_kit: import the kit first, so that a "
                           "uvicorn worker's metrics go to the shared directory")
    # 0o700: the values move with every organiser's data; other users of the host read none of them
    os.makedirs(base, mode=0o700, exist_ok=True)
    kept_from_others(base)
    forget_stopped_supervisors(base)
    path = os.path.join(base, f"{parent.pid}-{process_start(parent.pid) or ''}")
    os.makedirs(path, mode=0o700, exist_ok=True)
    private(path)
    # a dead worker of this start that had this pid: its live gauges are not this one's (prometheus_client would read
    # them back as this worker's values); its counters are summed on by this one, which loses and doubles nothing
    for name in os.listdir(path):
        found = _LIVE_FILE.fullmatch(name)
        if found and int(found[1]) == os.getpid():
            os.remove(os.path.join(path, name))
    environ[ENV] = path
    return path


def kept_from_others(base: str) -> None:
    """No other user can move this user's directories in `base` (and put one of theirs, or a link, in their place):
    it is this user's or root's, and no one else may write in it — or, like /tmp, only remove what they own (sticky)."""
    found = os.lstat(base)
    others_write = found.st_mode & 0o022 and not found.st_mode & stat.S_ISVTX
    if not stat.S_ISDIR(found.st_mode) or found.st_uid not in (os.getuid(), 0) or others_write:
        raise RuntimeError(f"{SETTING}: {base} is not a directory of this user's that others cannot write in: another "
                           "user could swap the workers' metrics directory for one of their own; name another (a "
                           "directory under it, which the workers make)")


def private(path: str) -> None:
    """The directory is this user's alone: one made beforehand by another user of the host (/tmp is everyone's), or
    open to others, would let them read the counts or write counts of their own into every scrape."""
    found = os.lstat(path)
    if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.getuid() or found.st_mode & 0o077:
        raise RuntimeError(f"{SETTING}: {path} is not a directory of this user alone (mode 0700): the workers' metrics "
                           "would be open to others; remove it, or name another directory")


def process_start(pid: int) -> str | None:
    """The process's start time (clock ticks since boot, /proc/<pid>/stat field 22), or None (no such process, no
    /proc): with the pid it names one run of a process, where the pid alone is taken again (pid 1 in every container)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            fields = file.read().rpartition(b")")[2].split()
    except OSError:
        return None
    return fields[19].decode() if len(fields) > 19 else None


def running(pid: int, started: str | None = None) -> bool:
    """The process runs (a zombie does not: its files are what it left); `started`: and is the run that started then."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's: it runs
        pass
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            after = file.read().rpartition(b")")[2].split()
    except OSError:
        return not os.path.isdir("/proc/self")  # no /proc: os.kill said it runs
    if not after or after[0] == b"Z":
        return False
    return not started or (len(after) > 19 and after[19].decode() == started)


def forget_stopped_supervisors(base: str) -> None:
    """The directories of supervisors no longer running go: a restart starts afresh, and files do not pile up."""
    with contextlib.suppress(OSError):
        for name in os.listdir(base):
            found = _SUPERVISOR_DIR.fullmatch(name)
            if found and not running(int(found[1]), found[2] or None):
                shutil.rmtree(os.path.join(base, name), ignore_errors=True)


def forget_dead_workers(path: str) -> list[int]:
    """The `live*` gauges of the workers that died go (prometheus_client's `mark_process_dead`), so a scrape no longer
    counts a dead worker's cache bytes or lag; its counters stay (summed: a worker's death takes nothing back). uvicorn's
    supervisor has no hook for a worker's exit (gunicorn's `child_exit` calls it there), so a scrape does it. The dead
    pids.

    Its counter and histogram files stay until this supervisor stops (the next start's worker removes the directory):
    not merged into one, because prometheus_client offers no way to (its maintainers refused one for the races:
    another process of the pid, two scrapes merging at once — client_python #518) and doing it here would mean
    writing its private file format under a lock every scrape takes. A worker dies only by a crash or a kill, and each
    leaves two sparse files (12 KiB written) that every scrape reads: some 0.2 ms more a scrape per dead worker
    (bench/README.md, ops32)."""
    from prometheus_client import multiprocess

    dead = {int(found[1]) for name in os.listdir(path) if (found := _LIVE_FILE.fullmatch(name))}
    dead = {pid for pid in dead if pid != os.getpid() and not running(pid)}
    for pid in dead:
        with contextlib.suppress(FileNotFoundError):  # two scrapes at once
            multiprocess.mark_process_dead(pid, path)  # type: ignore[no-untyped-call]  # prometheus_client's own is untyped
    return sorted(dead)
