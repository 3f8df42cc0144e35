"""Mittköping, the demo municipality (dev only).

`story` holds every parameter of the municipality and of its story, `generator` builds it
(pure and deterministic for a seed), `ss12000` writes the directory as an SS 12000 v2 folder
dump, `publisher` sends the results through the services' HTTP APIs.
"""
