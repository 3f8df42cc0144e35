"""The one SQLAlchemy MetaData of the service: every capability defines its tables on it."""

from sqlalchemy import MetaData

from styrkedja_kit.app import define_kit_tables

metadata = MetaData()
# reporting is the registered producer of styrkedja.organisation (the directory import): an outbox
define_kit_tables(metadata, outbox=True, consumer=True)
