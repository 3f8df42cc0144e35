"""Keyset paging's cursor (`styrkedja_kit.paging`): a position written by the service reads back as itself; any other
text is a 422 naming `after` and the rule `page_cursor` (round 30a)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID

import pytest

from styrkedja_kit.paging import CURSOR_MAX_LENGTH, CURSOR_RULE, cursor_of, position_of
from styrkedja_kit.rules import RuleViolation

AT = datetime(2026, 10, 25, 2, 30, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
ID = UUID("5c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d00")


@pytest.mark.parametrize(("at", "row_id", "id_type"), [
    (AT, ID, UUID), (AT, 7, int), (datetime(1900, 1, 1, tzinfo=UTC), 0, int),
    (datetime(2199, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), 2**63 - 1, int),
])
def test_a_cursor_names_its_position_to_the_microsecond(at: datetime, row_id: UUID | int, id_type: type) -> None:
    cursor = cursor_of(at, row_id)
    assert len(cursor) <= CURSOR_MAX_LENGTH and cursor.isascii()
    assert position_of(cursor, id_type) == (at, row_id)
    assert position_of(None, id_type) is None


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize("after", [
    "x", "", "%%%", cursor_of(AT, ID) + "A", cursor_of(AT, ID)[:-1],
    _b64("2026-10-25T00:30:00.123456+00:00"),  # no id
    _b64(f"2026-10-25T00:30:00.123456|{ID}"),  # no offset
    _b64(f"2026-10-25T02:30:00.123456+02:00|{ID}"),  # another spelling of the moment
    _b64(f"2026-10-25T00:30:00.123456+00:00|{str(ID).upper()}"),  # another spelling of the id
    _b64(f"2026-10-25T00:30:00.123456+00:00|{ID.hex}"),
    _b64("2026-10-25T00:30:00.123456+00:00|not-an-id"),
    _b64("9999-99-99T00:30:00.123456+00:00|1"),
    base64.urlsafe_b64encode(b"\xff\xfe|\x00").decode(),
])
def test_anything_but_a_cursor_the_service_wrote_is_a_422_naming_after(after: str) -> None:
    for id_type in (UUID, int):
        with pytest.raises(RuleViolation) as caught:
            position_of(after, id_type)
        assert (caught.value.field, caught.value.rule, caught.value.status) == ("after", CURSOR_RULE, 422)
