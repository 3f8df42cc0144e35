"""The caller's identity: the one FastAPI dependency every route takes.

The token layer (OIDC JWT → role, organiser, school units) is being built in the kit. Until it is
wired here, no identity is known: `actor` returns None and the ownership rules in `rules` are not
applied to HTTP requests. Replacing this function's body is the only change the routes need."""

from __future__ import annotations

from .rules import Actor


async def actor() -> Actor | None:
    return None
