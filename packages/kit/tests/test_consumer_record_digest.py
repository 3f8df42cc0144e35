"""`record_digest` hashes each record with a copy of one unused hasher (decode36): the digest of those bytes alone,
blake2b of 16 bytes, whatever was hashed before (the shared hasher never takes a record's bytes)."""

from __future__ import annotations

import hashlib

from styrkedja_kit.consumer import record_digest

RECORDS = [b"", b"{}", b'{"specversion":"1.0"}', bytes(range(256)) * 40, "åäö".encode()]


def test_each_digest_is_of_its_own_bytes_whatever_came_before():
    for _ in range(2):
        for raw in (*RECORDS, *reversed(RECORDS)):
            assert record_digest(raw) == hashlib.blake2b(raw, digest_size=16).digest()
    assert record_digest(bytearray(b"{}")) == record_digest(memoryview(b"{}")) == record_digest(b"{}")
    assert len(record_digest(b"{}")) == 16
