"""Access to the committed example events (``packages/contracts/examples/<type>.json``).

Handy for other services' tests: ``decode_event(example_bytes("se.styrkedja.assessment.published.v1"))``.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["EXAMPLES_DIR", "example_path", "example_bytes"]

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"


def example_path(event_type: str) -> Path:
    """Path of the example CloudEvent of ``event_type``."""
    return EXAMPLES_DIR / f"{event_type}.json"


def example_bytes(event_type: str) -> bytes:
    """Raw bytes of the example CloudEvent of ``event_type`` (pretty-printed JSON)."""
    return example_path(event_type).read_bytes()
