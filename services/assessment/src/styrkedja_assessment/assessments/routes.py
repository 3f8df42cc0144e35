"""HTTP routes of published assessments (single, batch, retraction): the kit's routes of a record
written with numbered revisions (`styrkedja_kit.record_routes`)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from styrkedja_kit.app import runtime_of
from styrkedja_kit.auth import Principal, Write, authorize_write
from styrkedja_kit.record_routes import RecordRoutes, add_record_routes

from ..metadata import idempotency_keys
from .schemas import AssessmentBatchIn, AssessmentIn, AssessmentOut, BatchOut, RetractIn
from .service import AssessmentService

router = APIRouter(prefix="/v1/assessments", tags=["assessments"])


def _service(request: Request, principal: Principal) -> AssessmentService:
    runtime = runtime_of(request)
    assert runtime.outbox is not None
    return AssessmentService(runtime.db, runtime.outbox, principal, max_batch_items=runtime.settings.max_batch_items,
                             checked_once=runtime.settings.write_events_checked_once)


add_record_routes(router, RecordRoutes(
    id_name="assessment_id", service=_service,
    # platform clients publish for their own organiser(s); each item's organiser is checked in the service
    writer=authorize_write(Write.ASSESSMENTS),
    item=AssessmentIn, answer=AssessmentOut, batch=AssessmentBatchIn, batch_answer=BatchOut, removal=RetractIn,
    write="publish", write_batch="publish_batch", remove="retract",
    store=AssessmentService.publish, store_batch=AssessmentService.publish_batch,
    take_back=AssessmentService.retract, keys=idempotency_keys,
    same_again="The same assessment again: nothing stored, no event",
    batch_same_again="Every assessment was already stored: nothing stored, no event",
    batch_doc="""All or nothing; a problem names every bad item (`items.<index>.<field>`). An item for an
    organiser the token may not write for is a 403 naming it, and nothing is stored.""",
    remove_doc="""Retract (återkalla) an assessment as its next revision. An id the service has not stored — or
    another organiser's — is a 404 and nothing is recorded: a publish arriving later creates it as usual. After a
    retraction, only a publish naming a revision above the retraction's restores it (409
    `removed_needs_revision` otherwise), so a late publish never resurrects it; a retraction at revision
    2146435071 or above (the highest a request may name) can never be restored (409 `removed_for_good`)."""))
