"""The reporting service: the organisation directory and materialised aggregates for every
level of the governance chain. Only wiring here: each capability brings its tables, its event
handlers and its routes."""

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.middleware import Middleware

from styrkedja_contracts import TOPICS
from styrkedja_kit.app import ConsumerSpec, Runtime, app_on_first_access, create_service_app
from styrkedja_kit.request_examples import load_request_examples

from .access.answers import ANSWERS, AnswerCache, StateVersions, VersionReader, document_kept_answers
from .access.routes import router as access_routes
from .access.warm import keep_warm
from .alerts import freshness as alert_freshness
from .alerts import handlers as alerts
from .alerts.routes import router as alerts_routes
from .alerts.sweep_routes import router as alert_sweep_routes
from .compliance import handlers as compliance
from .compliance.routes import router as compliance_routes
from .directory import handlers as directory
from .directory.routes import router as directory_routes
from .figures import handlers as figures
from .figures.routes import router as figures_routes
from .freshness import current_lag, follow_lag
from .lika import handlers as lika
from .lika.routes import router as lika_routes
from .metadata import metadata
from .ops.routes import router as ops_routes
from .params import READ_RULES
from .registry import HandlerRegistry
from .results import handlers as results
from .results.read import KEPT
from .results.routes import router as results_routes
from .settings import ReportingSettings
from .support import handlers as support
from .support.routes import document_list_levels
from .support.routes import router as support_routes


async def move_school_units(session: AsyncSession, moves: Any) -> None:
    """A school unit moved between areas: every capability's area state moves with it (the results' aggregates keep
    no area rows: an area's cells are read from its school units' as they are placed, `results.tables.with_areas`)."""
    await figures.move_school_units(session, moves)
    await support.move_school_units(session, moves)


def handler_registry(live_alerts: bool = True) -> HandlerRegistry:
    """`live_alerts=False` for a rebuild from the event log: alerts are then judged once on the
    final state (`alerts.handlers.reevaluate_all`, `POST /v1/admin/alerts/reevaluate`)."""
    registry = HandlerRegistry()
    # the writers' lock of every organiser whose facts, or whose cells derived from them, the batch writes (results,
    # support and plans, compliance's items: a directory change re-derives them too), first: before any of its
    # reads, and before the directory's placement locks (the lock order: results/tables.py, "Concurrent writers")
    registry.register(sorted({*results.EVENT_TYPES, *support.EVENT_TYPES, *compliance.EVENT_TYPES}),
                      results.lock_batch_fact_writers)
    # compliance notes which students the batch's memberships named before it (one may change its student)
    registry.register(compliance.MEMBERSHIP_TYPES, compliance.note_members_before)
    # the directory first: results of the same batch are placed with the newest tree
    registry.register(directory.EVENT_TYPES, directory.directory_handler(on_moves=move_school_units))
    # alerts note where the batch's results counted before it, then judge the cells after it
    if live_alerts:
        registry.register(alerts.EVENT_TYPES, alerts.note_cells_before)
        registry.register(alerts.ASSESSMENT_TYPES, alert_freshness.note_units_before)
    registry.register(results.EVENT_TYPES, results.apply_results)
    # after results: the figures take the batch's changed facts from it (results.batch_changes)
    registry.register(figures.EVENT_TYPES, figures.apply_figures)
    # after results too: the results a batch changed move "below the pass level without support"
    registry.register(support.RESULT_TYPES, support.apply_support_results)
    if live_alerts:  # every live rule after the figures (freshness reads their result dates), decided at once
        registry.register(alerts.EVENT_TYPES, alert_freshness.evaluate_batch)
    # compliance reads the directory and the forecast facts as this batch left them
    registry.register(compliance.EVENT_TYPES, compliance.apply_compliance)
    registry.register(lika.EVENT_TYPES, lika.apply_lika)
    registry.register(support.EVENT_TYPES, support.apply_support)
    return registry


def consumer_spec(settings: ReportingSettings, registry: HandlerRegistry) -> ConsumerSpec:
    topics = [t.name for t in TOPICS.values() if "reporting" in t.consumers]

    def handler(runtime: Runtime) -> HandlerRegistry:
        # the reads tell the lag of this runtime's consumer (made just after this handler)
        follow_lag(lambda: _lag_of(runtime))
        return registry

    return ConsumerSpec(group_id=settings.consumer_group, topics=topics, handler_factory=handler,
                        handles=registry.handles)


def _lag_of(runtime: Runtime) -> int | None:
    lags = [loop.lag() for loop in runtime.consumers]
    return None if not lags or None in lags else sum(lag for lag in lags if lag is not None)


def create_app(settings: ReportingSettings) -> FastAPI:
    registry = handler_registry()
    follow_lag(None)  # until this app's consumer starts
    app = create_service_app(settings, metadata, [results_routes, figures_routes, directory_routes, lika_routes,
                                                  alerts_routes, compliance_routes, support_routes, ops_routes,
                                                  alert_sweep_routes, access_routes],
                             title="Styrkedja reporting service", uses_outbox=True, require_token=True,
                             consumer=consumer_spec(settings, registry),
                             request_examples=load_request_examples(__package__))
    app.description = READ_RULES  # read when the document is first built (the kit adds its own rules after it)
    with_background(app, settings.freshness_sweep_seconds,
                    lambda runtime, every: alert_freshness.run_sweeper(runtime, every), name="freshness-sweep")
    with_background(app, settings.decision_warm_seconds, keep_warm, name="keep-decisions-warm")
    ANSWERS.max_bytes = settings.read_cache_max_mb * 2**20  # one cache per process, as its setting says
    KEPT.max_cells = settings.results_kept_cells  # one per process, too
    with_answer_cache(app)
    return app


#: The reads whose answers are kept per state version and reader class (`access.answers`).
CACHED_READS = ("/v1/figures/", "/v1/results/", "/v1/support/", "/v1/lika/", "/v1/compliance/", "/v1/directory/",
                "/v1/alerts")


_frozen = False


def freeze_the_start() -> None:
    """What the start made (modules, routes, schemas, pools) lives as long as the process: out of the
    collector's sight (after one collection), so that a full collection — which stops every request
    for as long as it walks the heap — walks less. Once per process (a test process starts many apps)."""
    global _frozen
    if not _frozen:
        _frozen = True
        gc.collect()
        gc.freeze()


def with_answer_cache(app: FastAPI) -> None:
    """The answer cache goes innermost of the middlewares: after the token check (it keys on the
    verified principal), before the routes (a hit needs neither the framework nor a session). Its
    version reads have a connection of their own, opened and closed with the app."""
    app.user_middleware.append(Middleware(AnswerCache, prefixes=CACHED_READS, lag=current_lag,
                                          versions=lambda app: getattr(app.state, "state_versions", None)))
    documented = app.openapi

    def openapi() -> dict[str, Any]:  # each idempotent: the kit keeps one document
        return document_list_levels(document_kept_answers(documented(), CACHED_READS))

    app.openapi = openapi  # type: ignore[method-assign]
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with inner(app):
            freeze_the_start()
            runtime = app.state.runtime
            if not getattr(runtime.settings, "read_cache_enabled", True):
                yield
                return
            reader = VersionReader(runtime.db.asyncpg_dsn)
            app.state.state_versions = StateVersions(reader, reader.aclose,
                                                     overlap=getattr(runtime.settings, "read_cache_version_reads", 1))
            try:
                yield
            finally:
                versions, app.state.state_versions = app.state.state_versions, None
                await versions.aclose()

    app.router.lifespan_context = lifespan


def with_background(app: FastAPI, every_seconds: float, task: Any, name: str) -> None:
    """Run `task(runtime, every_seconds)` alongside the service (inside the kit's lifespan); 0 = off."""
    if every_seconds <= 0:
        return
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with inner(app):
            running = asyncio.create_task(task(app.state.runtime, every_seconds), name=name)
            try:
                yield
            finally:
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await running

    app.router.lifespan_context = lifespan


# `uvicorn styrkedja_reporting.main:app`; importing the module (for `handler_registry`) needs no issuer
__getattr__ = app_on_first_access(create_app, ReportingSettings)
