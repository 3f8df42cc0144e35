"""HTTP routes of support interventions (single, batch, retraction): the kit's routes of a record
written with numbered revisions (`styrkedja_kit.record_routes`). No read of the description yet: it
needs the caller's role from the token (`rules.may_read_description`), the next phase."""

from __future__ import annotations

from fastapi import APIRouter, Request

from styrkedja_kit.app import runtime_of
from styrkedja_kit.auth import Principal, Role, Write, authorize_write
from styrkedja_kit.record_routes import RecordRoutes, add_record_routes

from ..metadata import idempotency_keys
from .schemas import InterventionBatchIn, InterventionBatchOut, InterventionIn, InterventionOut, InterventionRetractIn
from .service import SupportService

router = APIRouter(prefix="/v1/support-interventions", tags=["support"])


def _service(request: Request, principal: Principal) -> SupportService:
    runtime = runtime_of(request)
    assert runtime.outbox is not None
    return SupportService(runtime.db, runtime.outbox, principal, max_batch_items=runtime.settings.max_batch_items)


def caller_role(principal: Principal) -> str:
    """The token's role for `rules.check_recorder`: the widest that may record (platform, then principal)."""
    for role in (Role.PLATFORM, Role.PRINCIPAL, Role.TEACHER):
        if principal.has(role):
            return role.value
    return sorted(principal.roles)[0].value if principal.roles else "none"


add_record_routes(router, RecordRoutes(
    id_name="intervention_id", service=_service,
    # the kit's grant: platform clients write support interventions (on behalf of their users), for their
    # own organiser(s). Should teachers or principals be granted `Write.SUPPORT`, `caller_role` already
    # applies the role rule to them (`rules.check_recorder`)
    writer=authorize_write(Write.SUPPORT),
    item=InterventionIn, answer=InterventionOut, batch=InterventionBatchIn, batch_answer=InterventionBatchOut,
    removal=InterventionRetractIn, write="record", write_batch="record_batch", remove="retract",
    store=lambda service, items: service.record(items, caller_role=caller_role(service.principal)),
    store_batch=lambda service, items: service.record_batch(items, caller_role=caller_role(service.principal)),
    take_back=SupportService.retract, keys=idempotency_keys,
    same_again="The same intervention again: nothing stored, no event",
    batch_same_again="Every intervention was already stored: nothing stored, no event",
    batch_doc="All or nothing; a problem names every bad item (`items.<index>.<field>`).",
    remove_doc="Retract an intervention as its next revision (404 for an id never stored, or another "
    "organiser's).", keyed=True))
