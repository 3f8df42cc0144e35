"""HTTP routes of plan metadata (single, batch, retraction): the kit's routes of a record written with
numbered revisions (`styrkedja_kit.record_routes`)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from styrkedja_kit.app import runtime_of
from styrkedja_kit.auth import Principal, Write, authorize_write
from styrkedja_kit.record_routes import RecordRoutes, add_record_routes

from ..metadata import idempotency_keys
from .schemas import PlanBatchIn, PlanBatchOut, PlanIn, PlanOut, PlanRetractIn
from .service import PlanService

router = APIRouter(prefix="/v1/plans", tags=["plans"])


def _service(request: Request, principal: Principal) -> PlanService:
    runtime = runtime_of(request)
    assert runtime.outbox is not None
    return PlanService(runtime.db, runtime.outbox, principal, max_batch_items=runtime.settings.max_batch_items)


add_record_routes(router, RecordRoutes(
    id_name="plan_id", service=_service,
    # plans are published by the same platform clients as assessments, under the same write scope
    writer=authorize_write(Write.ASSESSMENTS),
    item=PlanIn, answer=PlanOut, batch=PlanBatchIn, batch_answer=PlanBatchOut, removal=PlanRetractIn,
    write="publish", write_batch="publish_batch", remove="retract",
    store=PlanService.publish, store_batch=PlanService.publish_batch, take_back=PlanService.retract,
    keys=idempotency_keys,
    same_again="The same plan again: nothing stored, no event",
    batch_same_again="Every plan was already stored: nothing stored, no event",
    batch_doc="All or nothing; a problem names every bad item (`items.<index>.<field>`).",
    remove_doc="Retract a plan as its next revision (404 for an id never stored, or another organiser's).", keyed=True))
