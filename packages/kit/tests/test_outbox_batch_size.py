"""The relay's record batch size (`outbox.batch_bytes_within`): under the smallest `max.message.bytes`
the broker describes for the topics, Kafka's default where it names none."""

from styrkedja_kit.outbox import BATCH_MARGIN_BYTES, DEFAULT_MESSAGE_MAX_BYTES, batch_bytes_within


def test_the_smallest_limit_named_counts() -> None:
    assert batch_bytes_within(["1048588", "262144", None]) == 262_144 - BATCH_MARGIN_BYTES


def test_a_broker_that_names_no_limit_is_taken_to_have_kafkas_default() -> None:
    assert batch_bytes_within([None, None]) == DEFAULT_MESSAGE_MAX_BYTES - BATCH_MARGIN_BYTES
    assert batch_bytes_within([]) == DEFAULT_MESSAGE_MAX_BYTES - BATCH_MARGIN_BYTES


def test_a_small_limit_is_kept_to_and_a_garbled_one_ignored() -> None:
    assert batch_bytes_within(["20000"]) == 10_000
    assert batch_bytes_within(["lots"]) == DEFAULT_MESSAGE_MAX_BYTES - BATCH_MARGIN_BYTES
