"""Native API: CRM endpoints (MiniCRM call-log push, webhooks), the outbox and its dead
letters, and the call logs PBXs posted."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query, Request
from sqlalchemy.orm import object_session

from opendialer.accounts.roles import AdminScope, SupervisorScope
from opendialer.config import Settings
from opendialer.crm import calllog, service
from opendialer.crm.links import recording_template
from opendialer.crm.schemas import (
    CallLogRead,
    EndpointCreate,
    EndpointRead,
    EndpointUpdate,
    OutboxMessageRead,
    RetriggerBody,
    RetriggerResult,
)
from opendialer.models import Contact, CrmCallLog, CrmEndpoint, OutboxMessage, OutboxStatus
from opendialer.pagination import Page, PageParams, fetch_page
from opendialer.scoping import get_owned
from opendialer.web.db import DbSession
from opendialer.web.params import RecordId
from opendialer.web.routes import IndexedRouter, OneTripRoute
from opendialer.web.state import app_state

router = IndexedRouter(route_class=OneTripRoute, tags=["crm"])

IdFilter = Annotated[int | None, Query(ge=1, le=2**63 - 1)]


def _read(request: Request, endpoint: CrmEndpoint) -> EndpointRead:
    settings: Settings = app_state(request).settings
    session = object_session(endpoint)
    assert session is not None  # every endpoint shown was just read or written
    read = EndpointRead.model_validate(endpoint)
    template = recording_template(session, settings, endpoint)
    return read.model_copy(update={"recording_url_template": template})


def _now() -> datetime:
    return datetime.now(UTC)


@router.post("/crm/endpoints", status_code=201, response_model=EndpointRead)
def create_endpoint(
    body: EndpointCreate, request: Request, session: DbSession, who: AdminScope
) -> EndpointRead:
    return _read(request, service.create_endpoint(session, who, body))


@router.get("/crm/endpoints", response_model=list[EndpointRead])
def list_endpoints(request: Request, session: DbSession, who: AdminScope) -> list[EndpointRead]:
    stmt = service.endpoints_query(who).order_by(CrmEndpoint.id)
    return [_read(request, e) for e in session.scalars(stmt)]


@router.get("/crm/endpoints/{endpoint_id}", response_model=EndpointRead)
def get_endpoint(
    endpoint_id: RecordId, request: Request, session: DbSession, who: AdminScope
) -> EndpointRead:
    return _read(request, service.get_endpoint(session, who, endpoint_id))


@router.patch("/crm/endpoints/{endpoint_id}", response_model=EndpointRead)
def update_endpoint(
    endpoint_id: RecordId,
    body: EndpointUpdate,
    request: Request,
    session: DbSession,
    who: AdminScope,
) -> EndpointRead:
    return _read(request, service.update_endpoint(session, who, endpoint_id, body))


@router.delete("/crm/endpoints/{endpoint_id}", status_code=204)
def delete_endpoint(endpoint_id: RecordId, session: DbSession, who: AdminScope) -> None:
    service.delete_endpoint(session, who, endpoint_id)


@router.get("/crm/outbox", response_model=Page[OutboxMessageRead])
def list_outbox(
    session: DbSession,
    who: SupervisorScope,
    page: PageParams,
    status: OutboxStatus | None = None,
    endpoint_id: IdFilter = None,
) -> Page[OutboxMessageRead]:
    """Deliveries, oldest first; ``status=dead`` lists the dead letters."""
    stmt = service.outbox_query(who, status, endpoint_id)
    return fetch_page(session, stmt, OutboxMessage.id, page, OutboxMessageRead)


@router.post("/crm/outbox:retrigger", response_model=RetriggerResult)
def retrigger(body: RetriggerBody, session: DbSession, who: AdminScope) -> RetriggerResult:
    """Send again now: the named messages, or every dead letter (of one endpoint)."""
    messages = service.retrigger(
        session,
        who,
        _now(),
        message_ids=body.message_ids,
        endpoint_id=body.endpoint_id,
    )
    return RetriggerResult(retriggered=len(messages), message_ids=[m.id for m in messages])


@router.get("/crm/call-logs", response_model=Page[CallLogRead])
def list_call_logs(
    session: DbSession,
    who: SupervisorScope,
    page: PageParams,
    contact_id: IdFilter = None,
    unmatched: Annotated[bool | None, Query(description="Only calls matching no contact")] = None,
) -> Page[CallLogRead]:
    stmt = calllog.call_logs_query(who, contact_id, unmatched)
    return fetch_page(session, stmt, CrmCallLog.id, page, CallLogRead)


@router.get("/contacts/{contact_id}/call-logs", response_model=Page[CallLogRead])
def contact_call_logs(
    contact_id: RecordId, session: DbSession, who: SupervisorScope, page: PageParams
) -> Page[CallLogRead]:
    """The calls PBXs reported for this contact (its dialler attempts are under /history)."""
    get_owned(session, Contact, who, contact_id, "contact")
    stmt = calllog.call_logs_query(who, contact_id)
    return fetch_page(session, stmt, CrmCallLog.id, page, CallLogRead)
