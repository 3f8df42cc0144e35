"""Registry of event versions and upcasters.

``EVENT_MODELS`` maps every full CloudEvents type
(``se.styrkedja.<entity>.<verb>.v<N>``) to its data model. ``UPCASTERS``
maps a type ``vN`` to a function turning its ``data`` dict into the ``data``
dict of ``vN+1``; decoding chains them up to the newest registered version
of the same ``<entity>.<verb>``. Both are the dicts of the default
``REGISTRY``; tests can build their own ``EventRegistry``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from .errors import UnknownEventTypeError
from .events import ALL_EVENT_MODELS, EventData

__all__ = [
    "EventRegistry",
    "REGISTRY",
    "EVENT_MODELS",
    "UPCASTERS",
    "SCHEMA_BASE_URI",
    "Upcaster",
    "parse_event_type",
    "schema_uri",
]

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

SCHEMA_BASE_URI = "https://schemas.styrkedja.se/events/"
# a version's number without leading zeros: `v01` was read as v1 and refused as a v1 with "no upcaster … to v2"
# (round 33), a dead letter naming a version the event never had
_TYPE_RE = re.compile(r"^se\.styrkedja\.([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*)\.v(0|[1-9][0-9]*)$")


def parse_event_type(event_type: str) -> tuple[str, int]:
    """``"se.styrkedja.assessment.published.v1"`` → ``("assessment.published", 1)``."""
    m = _TYPE_RE.match(event_type)
    if not m:
        raise UnknownEventTypeError(
            f"type {event_type!r} does not look like se.styrkedja.<entity>.<verb>.v<N>", fields=("type",)
        )
    return f"{m.group(1)}.{m.group(2)}", int(m.group(3))


def _type_name(family: str, version: int) -> str:
    return f"se.styrkedja.{family}.v{version}"


def schema_uri(event_type: str) -> str:
    """The ``dataschema`` URI of an event type."""
    return f"{SCHEMA_BASE_URI}{event_type}.json"


class EventRegistry:
    """Event data models per type plus the upcaster chain between versions."""

    def __init__(
        self,
        models: Iterable[type[EventData]] = (),
        upcasters: dict[str, Upcaster] | None = None,
    ) -> None:
        self.models: dict[str, type[EventData]] = {}
        self.upcasters: dict[str, Upcaster] = dict(upcasters or {})
        # type → newest type of its family, filled on use (decode asks per event), emptied on register
        self._latest: dict[str, str] = {}
        for model in models:
            self.register(model)

    def register(self, model: type[EventData]) -> type[EventData]:
        """Register an event data model under its ``event_type`` (usable as a decorator)."""
        parse_event_type(model.event_type)
        existing = self.models.get(model.event_type)
        if existing is not None and existing is not model:
            raise ValueError(f"{model.event_type} is already registered to {existing.__name__}")
        self.models[model.event_type] = model
        self._latest.clear()
        return model

    def register_upcaster(self, from_type: str, upcaster: Upcaster) -> None:
        """Register the upcaster from ``from_type`` (vN) to vN+1."""
        parse_event_type(from_type)
        self.upcasters[from_type] = upcaster

    @contextmanager
    def temporary_upcaster(self, from_type: str, upcaster: Upcaster) -> Iterator[None]:
        """Register an upcaster for the duration of a ``with`` block (tests)."""
        previous = self.upcasters.get(from_type)
        self.register_upcaster(from_type, upcaster)
        try:
            yield
        finally:
            if previous is None:
                self.upcasters.pop(from_type, None)
            else:
                self.upcasters[from_type] = previous

    def latest_version(self, family: str) -> int | None:
        """Newest registered model version of ``<entity>.<verb>``, or None."""
        versions = [parse_event_type(t)[1] for t in self.models if parse_event_type(t)[0] == family]
        return max(versions) if versions else None

    def latest_type(self, event_type: str) -> str:
        """The newest registered type of the same ``<entity>.<verb>`` as ``event_type``."""
        known = self._latest.get(event_type)
        if known is not None:
            return known
        family, version = parse_event_type(event_type)
        latest = self.latest_version(family)
        if latest is None:
            raise UnknownEventTypeError(
                f"type {event_type!r} is not a registered event type", fields=("type",)
            )
        if version > latest:  # the dead letter says which version, and that a newer reader applies it
            raise UnknownEventTypeError(
                f"type {event_type!r} is not a registered event type: version {version} of {family} is newer than "
                f"the newest this reader knows (v{latest}); a replay applies it once v{version} is registered",
                fields=("type",),
            )
        self._latest[event_type] = newest = _type_name(family, latest)
        return newest

    def model_for(self, event_type: str) -> type[EventData]:
        """The data model registered for exactly ``event_type``."""
        try:
            return self.models[event_type]
        except KeyError:
            raise UnknownEventTypeError(
                f"type {event_type!r} is not a registered event type", fields=("type",)
            ) from None

    def upcast(self, event_type: str, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """Upcast ``data`` of ``event_type`` step by step to the newest version.

        Raises ``UnknownEventTypeError`` for an unknown type or a missing link in
        the chain. Exceptions raised by an upcaster propagate to the caller.
        """
        target = self.latest_type(event_type)
        if target == event_type:  # the common case: already the newest version
            return event_type, data
        family, version = parse_event_type(event_type)
        current = event_type
        while current != target:
            upcaster = self.upcasters.get(current)
            if upcaster is None:
                raise UnknownEventTypeError(
                    f"type {event_type!r} is not registered: no upcaster from {current} "
                    f"to v{version + 1}",
                    fields=("type",),
                )
            data = upcaster(dict(data))
            version += 1
            current = _type_name(family, version)
        return current, data


REGISTRY = EventRegistry(ALL_EVENT_MODELS)
"""The default registry with every published event version."""

EVENT_MODELS: dict[str, type[EventData]] = REGISTRY.models
UPCASTERS: dict[str, Upcaster] = REGISTRY.upcasters
