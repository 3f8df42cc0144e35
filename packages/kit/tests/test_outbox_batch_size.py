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


def test_a_cap_below_the_brokers_size_wins_and_zero_means_none() -> None:
    from styrkedja_kit.outbox import capped

    assert capped(1_032_204, 524_288) == 524_288
    assert capped(1_032_204, 0) == 1_032_204
    assert capped(100_000, 524_288) == 100_000  # never above what the broker takes
