"""The below-pass family's subject views, taken from its every-subject read (`support.disclose.below_in_subject`):
the one decision over every view (round 24) read the table twice per subject and level — 136 statements at 16
subjects, ~345 ms of a cold below-pass decision (bench/results/support-decision24.json); now twice per level, whatever
the subjects. Each view is what reading it from the table gives."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import event

from styrkedja_kit.auth import Level
from styrkedja_reporting.access import decision
from styrkedja_reporting.access.decision import COUNT_LEVELS
from styrkedja_reporting.access.disclosure import DisclosureRules
from styrkedja_reporting.support import read
from styrkedja_reporting.support.disclose import below_in_subject, family_decision, subjects_of

from .test_support import chunks, directory_events, feed, make_log

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

TODAY = date(2026, 10, 1)


@pytest.fixture
async def fed(db):
    await feed(db, [directory_events(), *chunks(make_log(7), 37)])
    return db


async def test_each_subject_s_view_is_its_read_from_the_table(fed) -> None:
    async with fed.sessions() as session:
        subjects = await subjects_of(session, "below")
        assert len(subjects) >= 2  # views to compare: the test can fail
        for level in COUNT_LEVELS:
            every = await read.units_below_pass(session, level, None)
            for subject in subjects:
                assert below_in_subject(every, subject) == await read.units_below_pass(session, level, subject), (
                    level, subject)


async def test_the_below_pass_decision_reads_the_table_twice_per_level_whatever_the_subjects(fed) -> None:
    """Failed on the old code: 2 × 4 levels × (1 + each subject) reads of `support_below_pass`, and the subjects'."""
    statements: list[str] = []

    def note(conn, cursor, statement, *_):
        if "support_below_pass" in statement:
            statements.append(statement)

    decision._DECISIONS.clear()
    event.listen(fed.engine.sync_engine, "before_cursor_execute", note)
    try:
        async with fed.sessions() as session:
            found = await family_decision(session, "below", None, 8, TODAY, frozenset(Level), DisclosureRules())
    finally:
        event.remove(fed.engine.sync_engine, "before_cursor_execute", note)
    assert found.disclosure.cells  # something decided
    assert len(statements) == 1 + 2 * len(COUNT_LEVELS), statements
