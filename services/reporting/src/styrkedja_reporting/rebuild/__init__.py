"""Rebuild reporting from the event log in bulk (`styrkedja rebuild reporting`): `bulk` applies, `log`
reads the topics, `command` wires them with progress and the offsets."""
