"""Keeping the disclosure decisions warm: after each new state version (an applied batch), the
decisions readers asked for recently are taken again in the background, so that the first read after
a batch finds its decision kept instead of waiting for it (a politician's trend: ~1 s at bench scale).

What is decided again is what was asked (`access.decision.note_asked`: the components of one read
and reader class, a support family's count table), in the last `RECENT_SECONDS`, at most
`decision.ASKED_KEPT` of them, most recent first. Each is decided as a read would decide it
(`decision_for`, `counts_decision`: single-flight, so a read arriving meanwhile waits for the warming
instead of deciding twice), in one REPEATABLE READ snapshot: the version and the rows it keeps the
decisions by are one state, never a decision kept under a version whose rows it was not taken on.
A batch burst is warmed once per `debounce` seconds (`STYRKEDJA_DECISION_WARM_SECONDS`), on the
newest version then."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Hashable

from prometheus_client import Counter

from styrkedja_kit.app import Runtime
from styrkedja_kit.db import Database

from . import decision

log = logging.getLogger(__name__)

#: Recent: asked in the last ten minutes (a dashboard's readers come back within that).
RECENT_SECONDS = 600.0

WARMED = Counter("styrkedja_disclosure_decisions_warmed",
                 "Disclosure decisions (a read's components, a count table) taken again after a new state version "
                 "before any reader asked")
ROUNDS = Counter("styrkedja_disclosure_warm_rounds",
                 "Rounds of warming finished: every recently asked decision taken on a new state version")
SOLVED = Counter("styrkedja_disclosure_decisions_solved_by_warming",
                 "Of the warmed decisions, the components and tables whose rows changed (decided anew)")


async def warm_once(db: Database, last: Hashable | None) -> Hashable | None:
    """Decide again what was asked recently, if the state version moved past `last`; the version
    warmed (or `last` when there was nothing to do)."""
    from ..results.disclose import state_version

    asked = decision.recently_asked(RECENT_SECONDS)
    if not asked:
        return last
    async with db.snapshot() as session:
        version = await state_version(session)
        if version == last:
            return last
        for redo in asked:
            solved = decision.SOLVED[0]
            await redo(session, version)
            WARMED.inc()
            SOLVED.inc(max(decision.SOLVED[0] - solved, 0))  # (a read solving meanwhile may count here too)
        await session.rollback()
    ROUNDS.inc()
    return version


async def keep_warm(runtime: Runtime, debounce_seconds: float) -> None:
    """Until cancelled: every `debounce_seconds` — and at least `SHARE` times as long as the last round took,
    so that while batches arrive back to back warming takes at most a third of the process (the consumer
    applies in the same one) — warm the recently asked decisions on a new version. A failed round is logged
    and tried again next time."""
    last: Hashable | None = None
    spent = 0.0
    while True:
        await asyncio.sleep(max(debounce_seconds, SHARE * spent))
        started = time.monotonic()
        try:
            last = await warm_once(runtime.db, last)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("keeping the disclosure decisions warm failed; trying again in %.1f s", debounce_seconds)
        spent = time.monotonic() - started


#: The pause after a round, at least this many times the round's own time.
SHARE = 2.0
