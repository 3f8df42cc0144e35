"""The one MetaData of the forecast service (the kit's tables on it); each capability adds its own."""

from sqlalchemy import MetaData

from styrkedja_kit.app import define_kit_tables

metadata = MetaData()
define_kit_tables(metadata, outbox=True, lean_outbox=True)  # a bulk writer
