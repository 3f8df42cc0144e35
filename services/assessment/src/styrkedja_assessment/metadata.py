"""The one MetaData of the assessment service (the kit's tables on it); each capability adds its own."""

from sqlalchemy import MetaData

from styrkedja_kit.app import define_kit_tables
from styrkedja_kit.idempotency import define_key_table

metadata = MetaData()
define_kit_tables(metadata, outbox=True, lean_outbox=True)  # a bulk writer
#: the batches' `Idempotency-Key`s (`styrkedja_kit.record_routes`, `RecordRoutes.keys`)
idempotency_keys = define_key_table(metadata)
