"""Prometheus metrics of the shared runtime, labelled by service (defined once per process)."""

from prometheus_client import Counter, Gauge, Histogram

OUTBOX_BACKLOG = Gauge("styrkedja_outbox_backlog", "Outbox rows not yet published", ["service"])
OUTBOX_OLDEST_AGE = Gauge("styrkedja_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox row",
                          ["service"])
OUTBOX_PUBLISHED = Counter("styrkedja_outbox_published_total", "Outbox rows published", ["service", "topic"])
OUTBOX_PUBLISH_ERRORS = Counter("styrkedja_outbox_publish_errors_total", "Failed publish attempts", ["service"])
OUTBOX_BROKER_LOSS = Counter("styrkedja_outbox_broker_loss_total",
                             "Times the relay found the broker had lost a topic's log and republished",
                             ["service", "topic"])
CONSUMER_APPLIED = Counter("styrkedja_consumer_events_applied_total", "Events applied", ["group", "topic"])
CONSUMER_DUPLICATES = Counter("styrkedja_consumer_duplicates_total", "Re-delivered events skipped",
                              ["group", "topic"])
CONSUMER_DEAD_LETTERED = Counter("styrkedja_consumer_dead_lettered_total", "Events sent to the dead-letter topic",
                                 ["group", "topic", "reason"])
CONSUMER_PREFETCH_DISCARDED = Counter("styrkedja_consumer_prefetch_discarded_total",
                                      "Batches fetched ahead across a rebalance, read again instead", ["group"])
CONSUMER_BATCH_SECONDS = Histogram("styrkedja_consumer_batch_seconds", "Time to apply one batch", ["group"])
CONSUMER_CONFLICT_RETRIES = Counter("styrkedja_consumer_conflict_retries_total",
                                    "Batches run again after PostgreSQL ended them for a concurrent transaction "
                                    "(a deadlock, a serialization failure)", ["group"])
CONSUMER_REWINDS = Counter("styrkedja_consumer_rewinds_total",
                           "Partitions re-read from the beginning after broker state loss", ["group", "topic"])
CONSUMER_LOG_GAPS = Counter("styrkedja_consumer_log_gaps_total",
                            "Partitions whose log did not hold the group's offset (`consumer.log_gap`): `replaced` (the "
                            "offset beyond the log's end: read again from its start), `truncated` (before its start: "
                            "records lost)", ["group", "topic", "kind"])
CONSUMER_RECORDS_LOST = Counter("styrkedja_consumer_log_records_lost_total",
                                "Records between the group's offset and the start of a truncated log (retention "
                                "deleted them before they were applied)", ["group", "topic"])
CONSUMER_STARTS = Counter("styrkedja_consumer_partition_starts_total",
                          "Partitions taken without an offset of their group in the database, by where they were "
                          "read from (`consumer.start_position`)", ["group", "topic", "source"])
CONSUMER_LAG = Gauge("styrkedja_consumer_lag_events", "Events on the partition not yet applied (as of the last fetch)",
                     ["group", "topic", "partition"])
CONSUMER_UNHANDLED = Counter("styrkedja_consumer_unhandled_total",
                             "Events of a type no handler applies: skipped, not recorded as applied",
                             ["group", "type"])
