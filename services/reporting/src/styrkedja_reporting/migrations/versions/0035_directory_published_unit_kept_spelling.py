"""directory_published: a unit published under its id as sent before round 26 (`unit:organiser::2120001234` for the
organiser `212000-1234`) held under the key the door writes since (`unit:organiser::212000-1234`, the unit id that
spells its own organiser kept as that organiser: `directory.rules.in_kept_spelling`). Until now the write path did
this fix-up itself (`writes._respell`), on every write, for the keys the batch named: a one-time data fix paid by
every directory write, and done only for units sent again (or removed by that key) — the others stayed, listed by
`/held` under a key the door never writes again.

The same outcome as `_respell`: a row under such a key is renamed to the kept key where that key is not published
(its content hash, times, source id and writer as they were), and deleted where it is (one entity published twice:
the row under the kept key stays, whatever it holds). Where two spellings of one unit wait and the kept key is not
published (`2120001234` and `162120001234`), the first by key in code point order is renamed and the others go, as
`_respell` did with both in one batch (it took the keys sorted). Only unit keys whose id spells the row's own
organiser id: another organiser's number, a kommunkod, an area's or a school unit's id stay as they are (as
`organiser_spelt` leaves them). The events published under the old key stay on the topic as sent (the handler
applies them in the kept spelling: `handlers._changes`), and a rebuild keeps `directory_published` as it is
(`rebuild.bulk.KEPT`), so nothing writes the old keys again.

Downgrade: a no-op (the old spellings are not restored; the code before this revision reads the kept keys alike).

Revision ID: c66db3431cbd
Revises: 9360002d9d7b
Create Date: 2026-12-05 21:00:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy import Connection

revision = 'c66db3431cbd'
down_revision = '9360002d9d7b'
branch_labels = None
depends_on = None

#: a unit key (`unit:<type>:<scope>:<id>`, `writes.entity_key`) whose id is an organisation number in any spelling
#: `canonical_organiser_id` reads; `\1` its prefix, `\3-\4` the id's kept spelling (as the kit's
#: `keep_organiser_spelling`). No `(?:` and no `:word` (a bind parameter to `text`).
_SPELT = r"'^(unit:[^:]*:[^:]*:)(16)?([0-9]{6})-?([0-9]{4})$'"
_KEPT_KEY = rf"regexp_replace(entity_key, {_SPELT}, '\1') || organiser_id"
#: rows under a key as sent whose unit id spells the row's own organiser, and not already so
_OLD = (rf"entity_key ~ {_SPELT} AND regexp_replace(entity_key, {_SPELT}, '\3-\4') = organiser_id "
        f"AND {_KEPT_KEY} <> entity_key")


def keep_unit_spelling(connection: Connection) -> tuple[int, int]:
    """The fix-up (the upgrade's whole work, also run by tests on a directory written as the old door did): how many
    rows were deleted, how many renamed."""
    deleted = connection.execute(sa.text(
        f"WITH old AS (SELECT organiser_id, entity_key, {_KEPT_KEY} AS kept_key FROM directory_published WHERE {_OLD}),"
        " ranked AS (SELECT organiser_id, entity_key, kept_key, row_number() OVER ("
        '   PARTITION BY organiser_id, kept_key ORDER BY entity_key COLLATE "C") AS rank FROM old) '
        "DELETE FROM directory_published p USING ranked r "
        "WHERE p.organiser_id = r.organiser_id AND p.entity_key = r.entity_key AND (r.rank > 1 OR EXISTS ("
        "  SELECT 1 FROM directory_published k WHERE k.organiser_id = r.organiser_id AND k.entity_key = r.kept_key))"
    )).rowcount
    # what is left of them is one row per kept key, that key not published
    renamed = connection.execute(sa.text(
        f"UPDATE directory_published SET entity_key = {_KEPT_KEY} WHERE {_OLD}")).rowcount
    return deleted, renamed


def upgrade() -> None:
    keep_unit_spelling(op.get_bind())


def downgrade() -> None:
    pass
