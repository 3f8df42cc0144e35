"""The reporting service: the organisation directory and materialised aggregates for every
level of the governance chain. Only wiring here: each capability brings its tables, its event
handlers and its routes."""

from fastapi import FastAPI

from styrkedja_contracts import TOPICS
from styrkedja_kit.app import ConsumerSpec, create_service_app

from .directory import handlers as directory
from .directory.routes import router as directory_routes
from .figures import handlers as figures
from .figures.routes import router as figures_routes
from .lika import handlers as lika
from .lika.routes import router as lika_routes
from .metadata import metadata
from .ops.routes import router as ops_routes
from .registry import HandlerRegistry
from .results import handlers as results
from .results.routes import router as results_routes
from .settings import ReportingSettings


async def move_school_units(session, moves) -> None:
    """A school unit moved between areas: every capability's area state moves with it."""
    await results.move_school_units(session, moves)
    await figures.move_school_units(session, moves)


def handler_registry() -> HandlerRegistry:
    registry = HandlerRegistry()
    # the directory first: results of the same batch are placed with the newest tree
    registry.register(directory.EVENT_TYPES, directory.directory_handler(on_moves=move_school_units))
    registry.register(results.EVENT_TYPES, results.apply_results)
    # after results: the figures take the batch's changed facts from it (results.batch_changes)
    registry.register(figures.EVENT_TYPES, figures.apply_figures)
    registry.register(lika.EVENT_TYPES, lika.apply_lika)
    return registry


def consumer_spec(settings: ReportingSettings, registry: HandlerRegistry) -> ConsumerSpec:
    topics = [t.name for t in TOPICS.values() if "reporting" in t.consumers]
    return ConsumerSpec(group_id=settings.consumer_group, topics=topics, handler_factory=lambda runtime: registry,
                        handles=registry.handles)


def create_app(settings: ReportingSettings) -> FastAPI:
    registry = handler_registry()
    return create_service_app(settings, metadata, [results_routes, figures_routes, directory_routes, lika_routes,
                                                        ops_routes],
                              title="Styrkedja reporting service", uses_outbox=True,
                              consumer=consumer_spec(settings, registry))


app = create_app(ReportingSettings())
