"""Native API: ACD events (callbacks, voice mails, tickets) and completing them."""

from datetime import UTC, datetime

from fastapi import Response

from opendialer.accounts.roles import SupervisorScope
from opendialer.acd import service
from opendialer.acd.schemas import AcdEventCreate, AcdEventCreated, AcdEventRead
from opendialer.models import AcdEvent
from opendialer.pagination import Page, PageParams, fetch_page
from opendialer.web.db import DbSession
from opendialer.web.params import RecordId
from opendialer.web.routes import IndexedRouter, OneTripRoute

router = IndexedRouter(route_class=OneTripRoute, tags=["acd events"])


@router.post("/acd/events", status_code=201, response_model=AcdEventCreated)
def create_event(
    body: AcdEventCreate, session: DbSession, who: SupervisorScope, response: Response
) -> AcdEventCreated:
    """201 with a new event; 200 with the open one when the group allows no duplicates."""
    event, created = service.create_event(session, who, body, datetime.now(UTC))
    if not created:
        response.status_code = 200
    return AcdEventCreated.model_validate(
        {**AcdEventRead.model_validate(event).model_dump(), "created": created}
    )


@router.get("/acd/events", response_model=Page[AcdEventRead])
def list_events(session: DbSession, who: SupervisorScope, page: PageParams) -> Page[AcdEventRead]:
    return fetch_page(session, service.events_query(who), AcdEvent.id, page, AcdEventRead)


@router.get("/acd/events/{event_id}", response_model=AcdEventRead)
def get_event(event_id: RecordId, session: DbSession, who: SupervisorScope) -> AcdEvent:
    return service.get_event(session, who, event_id)


@router.post("/acd/events/{event_id}:complete", response_model=AcdEventRead)
def complete_event(event_id: RecordId, session: DbSession, who: SupervisorScope) -> AcdEvent:
    """The agent finished the event (Done); completing a done event again changes nothing."""
    return service.complete_event(session, who, event_id, datetime.now(UTC))
