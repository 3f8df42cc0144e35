"""Prometheus's multiprocess mode for uvicorn's sibling workers (`workers_metrics`, kit metrics.py): where a worker's
values go, what a supervisor's start clears, what a scrape forgets of a dead worker. The whole, with a real
`uvicorn --workers 2`: tests/test_metrics_workers.py."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from styrkedja_kit.settings import ServiceSettings
from styrkedja_kit.workers_metrics import (
    ENV,
    forget_dead_workers,
    kept_from_others,
    prepare,
    private,
    process_start,
    running,
)

#: what a spawned worker (as uvicorn's) sees after importing the kit: run by `exec`, so that starting it imports no
#: module of the kit before the process is a child (this test module would: multiprocessing unpickles the target first)
CHILD = """
import os
os.environ["STYRKEDJA_METRICS_DIR"] = base
import styrkedja_kit.metrics as metrics
import prometheus_client.values as values
metrics.CONSUMER_APPLIED.labels("g", "t").inc(3)
metrics.CONSUMER_LAG.labels("g", "t", "0").set(5)
lag = os.path.join(os.environ["PROMETHEUS_MULTIPROC_DIR"], f"gauge_livemostrecent_{os.getpid()}.db")
made = os.path.exists(lag)
metrics.leave()  # a worker stopping (the lifespan's end)
answers.put((os.environ.get("PROMETHEUS_MULTIPROC_DIR"), values.ValueClass is values.MutexValue,
             metrics.registry() is not metrics.REGISTRY, made and not os.path.exists(lag)))
"""


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return int(done.stdout)


def test_a_spawned_worker_writes_to_its_supervisors_directory_and_a_stopped_supervisors_goes(tmp_path):
    """A process started by a supervisor (here: this one, as uvicorn starts its workers) takes multiprocess mode in
    `<metrics_dir>/<supervisor pid>-<its start time>` (only its user may read it), and the directories of supervisors
    no longer running — a dead pid, or this pid of an earlier start — are removed; this run's is kept; a worker that
    stops takes its live gauges out of the files. Failed on the old code: the worker kept its metrics in memory (no
    directory)."""
    base = tmp_path / "metrics"
    base.mkdir(mode=0o700)
    stale = [base / f"{_dead_pid()}-1", base / f"{os.getpid()}-1"]
    for directory in stale:
        directory.mkdir()
        (directory / "counter_1.db").write_bytes(b"")
    context = multiprocessing.get_context("spawn")
    answers = context.Queue()
    child = context.Process(target=exec, args=(CHILD, {"base": str(base), "answers": answers}))
    child.start()
    path, in_memory, shared_registry, left = answers.get(timeout=120)
    child.join(60)
    assert path == str(base / f"{os.getpid()}-{process_start(os.getpid())}")
    assert not in_memory and shared_registry
    assert left  # its lag left the scrape as it stopped; its counters stay (below)
    assert (os.stat(path).st_mode & 0o777) == 0o700
    assert [p.name for p in (base).iterdir()] == [os.path.basename(path)]
    assert os.path.exists(os.path.join(path, f"counter_{child.pid}.db"))
    assert prepare({}) is None  # this process: no supervisor, its metrics in memory as before


def test_a_worker_given_a_dead_workers_pid_takes_none_of_its_live_gauges(tmp_path, monkeypatch):
    """A pid used again within one start: the new worker's kept bytes and lag start from its own values, not the dead
    one's (prometheus_client reads a file of its pid back); the dead one's counters it sums on."""
    base = tmp_path / "metrics"
    base.mkdir(mode=0o700)
    mine = base / f"{os.getpid()}-{process_start(os.getpid())}"
    mine.mkdir(mode=0o700)
    for name in ("gauge_livesum_{}.db", "gauge_livemostrecent_{}.db", "counter_{}.db", "gauge_livesum_1{}.db"):
        (mine / name.format(os.getpid())).write_bytes(b"")
    parent = type("Parent", (), {"pid": os.getpid()})()
    monkeypatch.setattr(multiprocessing, "parent_process", lambda: parent)  # as a worker of this process sees it
    monkeypatch.delitem(sys.modules, "prometheus_client.values")  # as before a worker's first import of it
    assert prepare({"STYRKEDJA_METRICS_DIR": str(base)}) == str(mine)
    assert sorted(p.name for p in mine.iterdir()) == sorted([f"counter_{os.getpid()}.db",
                                                            f"gauge_livesum_1{os.getpid()}.db"])


def test_an_operators_directory_wins_and_a_relative_one_is_refused(tmp_path):
    assert prepare({ENV: str(tmp_path)}) == str(tmp_path)
    with pytest.raises(ValidationError) as refused:
        ServiceSettings(metrics_dir="metrics")
    assert "metrics_dir" in str(refused.value) and "absolute" in str(refused.value)
    assert ServiceSettings(metrics_dir=str(tmp_path)).metrics_dir == str(tmp_path)


def test_a_scrape_forgets_a_dead_workers_live_gauges_and_keeps_its_counters(tmp_path):
    """uvicorn has no hook for a worker's exit: the scrape marks a dead worker dead (`mark_process_dead`), so its cache
    bytes and lag leave the sum, while its counters stay in it (a counter never goes back)."""
    dead, alive = _dead_pid(), os.getpid()
    names = [f"gauge_livesum_{dead}.db", f"gauge_livemostrecent_{dead}.db", f"counter_{dead}.db",
             f"histogram_{dead}.db", f"gauge_livesum_{alive}.db"]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    assert forget_dead_workers(str(tmp_path)) == [dead]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[2:])
    assert running(alive) and running(alive, process_start(alive)) and not running(alive, "1") and not running(dead)


def test_a_directory_open_to_others_or_a_link_is_refused(tmp_path):
    """/tmp is every user's: a `styrkedja-metrics` another made first (open to all, or a link to elsewhere) would
    let them read the counts or add their own to every scrape. Failed before `private`: the worker wrote there."""
    open_to_all = tmp_path / "open"
    open_to_all.mkdir(mode=0o777)
    open_to_all.chmod(0o777)
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    for path in (open_to_all, link):
        with pytest.raises(RuntimeError, match="STYRKEDJA_METRICS_DIR"):
            private(str(path))
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o700)
    private(str(mine))
    kept_from_others(str(mine))
    with pytest.raises(RuntimeError, match="STYRKEDJA_METRICS_DIR"):  # anyone may move what is in it
        kept_from_others(str(open_to_all))
    open_to_all.chmod(0o1777)  # as /tmp: each removes only their own
    kept_from_others(str(open_to_all))
