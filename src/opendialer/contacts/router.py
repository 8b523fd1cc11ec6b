"""Native API: contacts, their six numbers, lock/unlock/reset, and their call history.

Lock, unlock and reset are custom methods in the ``/contacts/{id}:verb`` form (Google AIP-136).
Only ``POST`` is routed for them, and ``/contacts/{id}`` has no ``POST``, so Starlette always
picks the verb route; a ``GET``/``PATCH``/``DELETE`` of ``/contacts/{id}:lock`` reaches the plain
route and fails its integer id validation (422) without touching anything.
"""

from typing import Annotated

from fastapi import Query

from opendialer.accounts.roles import AdminScope, AgentScope, SupervisorScope
from opendialer.accounts.service import get_tenant
from opendialer.contacts import service
from opendialer.contacts.reading import contact_page
from opendialer.contacts.schemas import (
    MAX_ID,
    NO_NUL,
    CallAttemptRead,
    ContactCreate,
    ContactRead,
    ContactUpdate,
)
from opendialer.models import CallAttempt, Contact, ContactStatus
from opendialer.pagination import Page, PageParams, fetch_page
from opendialer.web.db import DbSession
from opendialer.web.params import RecordId
from opendialer.web.routes import IndexedRouter, OneTripRoute

router = IndexedRouter(route_class=OneTripRoute, tags=["contacts"])

IdFilter = Annotated[int | None, Query(ge=1, le=MAX_ID)]
TextFilter = Annotated[str | None, Query(max_length=255, pattern=NO_NUL)]


@router.post("/campaigns/{campaign_id}/contacts", status_code=201, response_model=ContactRead)
def create_contact(
    campaign_id: RecordId, body: ContactCreate, session: DbSession, who: AdminScope
) -> ContactRead:
    campaign, region = service.campaign_for_create(session, who, campaign_id)
    return service.create_contact_read(session, who, campaign, body, region=region)


@router.get("/contacts", response_model=Page[ContactRead])
def list_contacts(
    session: DbSession,
    who: SupervisorScope,
    page: PageParams,
    campaign_id: IdFilter = None,
    list_id: IdFilter = None,
    status: ContactStatus | None = None,
    locked: bool | None = None,
    phone: Annotated[
        str | None,
        Query(max_length=64, description="Any of the six numbers, national or international"),
    ] = None,
    user_data: TextFilter = None,
    external_id: TextFilter = None,
) -> Page[ContactRead]:
    region = get_tenant(session, who).default_region if phone is not None else None
    stmt = service.contacts_query(
        who,
        campaign_id=campaign_id,
        list_id=list_id,
        status=status,
        locked=locked,
        phone=phone,
        region=region,
        user_data=user_data,
        external_id=external_id,
    )
    return contact_page(session, stmt, page)


@router.get("/contacts/{contact_id}", response_model=ContactRead)
def get_contact(contact_id: RecordId, session: DbSession, who: AgentScope) -> Contact:
    return service.get_contact(session, who, contact_id)


@router.patch("/contacts/{contact_id}", response_model=ContactRead)
def update_contact(
    contact_id: RecordId, body: ContactUpdate, session: DbSession, who: AdminScope
) -> Contact:
    return service.update_contact(session, who, contact_id, body)


@router.delete("/contacts/{contact_id}", status_code=204)
def delete_contact(contact_id: RecordId, session: DbSession, who: AdminScope) -> None:
    service.delete_contact(session, who, contact_id)


@router.post("/contacts/{contact_id}:lock", response_model=ContactRead)
def lock_contact(contact_id: RecordId, session: DbSession, who: AdminScope) -> Contact:
    """Never dial this contact until it is unlocked."""
    return service.lock_contact(session, who, contact_id)


@router.post("/contacts/{contact_id}:unlock", response_model=ContactRead)
def unlock_contact(contact_id: RecordId, session: DbSession, who: AdminScope) -> Contact:
    return service.unlock_contact(session, who, contact_id)


@router.post("/contacts/{contact_id}:reset", response_model=ContactRead)
def reset_contact(contact_id: RecordId, session: DbSession, who: AdminScope) -> Contact:
    """As if newly imported: result code and try counters cleared, due now."""
    return service.reset_contact(session, who, contact_id)


@router.get("/contacts/{contact_id}/history", response_model=Page[CallAttemptRead])
def contact_history(
    contact_id: RecordId, session: DbSession, who: AgentScope, page: PageParams
) -> Page[CallAttemptRead]:
    """The contact's call attempts, oldest first."""
    service.get_contact(session, who, contact_id)
    stmt = service.contact_history_query(who, contact_id)
    return fetch_page(session, stmt, CallAttempt.id, page, CallAttemptRead)
