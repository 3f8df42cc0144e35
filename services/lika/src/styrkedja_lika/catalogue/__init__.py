"""LIKA catalogue data: one ``lika-<version>.yaml`` per catalogue version and ``catalogue.schema.json``.

Data only; loaded by :mod:`styrkedja_lika.domain.catalogue` via importlib.resources.
"""
