"""The in-progress lock of an `Idempotency-Key` (`idempotency.claim`): held by one request of a key at a time, and by
no other key's request."""

from __future__ import annotations

import pytest
from sqlalchemy import MetaData, text

from styrkedja_kit.idempotency import IN_PROGRESS_RULE, claim, key_lock
from styrkedja_kit.problems import Problem


async def test_two_keys_whose_32_bit_hashes_agree_do_not_hold_each_other(make_database) -> None:
    """Failed on the old code: the lock was (812_004, hashtext(name)), 32 bits of the key; two keys of one client in
    flight at once whose `hashtext` agreed shared it, and the second got a false 409 `idempotency_key_in_progress`.
    Such a pair is found here by brute force (among 300,000 keys a handful, expected ~10)."""
    db = await make_database(MetaData(), "idem_lock")
    async with db.engine.connect() as conn:
        pair = (await conn.execute(text(
            "SELECT array_agg(n ORDER BY n) FROM (SELECT format(E'POST /v1/things\\nplatform-a\\n%s', i) AS n "
            "FROM generate_series(1, 300000) AS i) AS keys GROUP BY hashtext(n) HAVING count(*) > 1 LIMIT 1"
        ))).scalar_one()
        same = (await conn.execute(text("SELECT hashtext(:a) = hashtext(:b)"), {"a": pair[0], "b": pair[1]})).scalar()
    assert pair[0] != pair[1] and same  # the collision the old lock shared
    assert key_lock(pair[0]) != key_lock(pair[1])
    async with db.sessions() as first, first.begin():
        await claim(first, pair[0])
        async with db.sessions() as second, second.begin():
            await claim(second, pair[1])  # another key: never "in progress"
        async with db.sessions() as again, again.begin():  # the same key while its request is in flight: 409
            with pytest.raises(Problem) as refused:
                await claim(again, pair[0])
    assert refused.value.status == 409 and refused.value.detail == IN_PROGRESS_RULE
    async with db.sessions() as after, after.begin():  # the first transaction over: the key is free again
        await claim(after, pair[0])


def test_no_key_shares_a_lock_with_the_services_own_two_int_locks() -> None:
    """The kit's and reporting's own locks are (812_001-812_004, …): a key's first half is never one of those."""
    firsts = {key_lock(f"POST /v1/things\nplatform-a\n{i}")[0] for i in range(20_000)}
    assert not firsts & set(range(812_000, 813_000))
    assert len(firsts) > 19_900  # the first halves spread (a constant first half would pass the line above)
