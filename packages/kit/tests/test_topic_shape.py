"""The embedded devstack's topic repair deletes a topic whose partition count is wrong. A broker may
describe a topic it has just made without its partitions for a moment (Apache Kafka did in CI): that
empty answer must not read as a wrong shape, or a freshly made topic would be deleted and made again."""

from __future__ import annotations

from typing import Any

import pytest

from styrkedja_kit import kafka


class _Admin:
    """describe_topics answers from a script: per call, the partition count of each topic asked."""

    def __init__(self, answers: list[dict[str, int]]) -> None:
        self.answers = answers
        self.asked: list[list[str]] = []

    async def describe_topics(self, names: list[str]) -> list[dict[str, Any]]:
        self.asked.append(list(names))
        answer = self.answers[min(len(self.asked), len(self.answers)) - 1]
        return [{"topic": name, "partitions": [{"partition": p} for p in range(answer[name])]}
                for name in names if name in answer]


@pytest.fixture(autouse=True)
def _no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kafka, "_DESCRIBE_PAUSE_S", 0)


async def test_a_topic_described_first_without_partitions_is_asked_again_and_is_not_misshapen() -> None:
    admin = _Admin([{"a": 0, "b": 2}, {"a": 3}])
    misshapen = await kafka._misshapen(admin, {"a": 3, "b": 3}, {"a", "b"})  # type: ignore[arg-type]
    assert misshapen == ["b"]
    assert admin.asked == [["a", "b"], ["a"]], "only the topic without partitions is described again"


async def test_a_topic_that_stays_without_partitions_counts_as_misshapen() -> None:
    admin = _Admin([{"a": 0}])
    assert await kafka._misshapen(admin, {"a": 3}, {"a"}) == ["a"]  # type: ignore[arg-type]
    assert len(admin.asked) == kafka._DESCRIBE_ATTEMPTS


async def test_absent_topics_are_not_described() -> None:
    admin = _Admin([{}])
    assert await kafka._misshapen(admin, {"a": 3}, set()) == []  # type: ignore[arg-type]
    assert admin.asked == []
