"""Native API: contacts, their six numbers, lock/unlock/reset, and their call history."""

from typing import Annotated

from fastapi import APIRouter, Query

from opendialer.accounts.dependencies import CurrentPrincipal
from opendialer.accounts.service import get_tenant
from opendialer.campaigns.service import get_campaign
from opendialer.contacts import service
from opendialer.contacts.schemas import CallAttemptRead, ContactCreate, ContactRead, ContactUpdate
from opendialer.db import DbSession
from opendialer.models import CallAttempt, Contact, ContactStatus
from opendialer.pagination import Page, PageParams, fetch_page
from opendialer.schemas import RecordId

router = APIRouter(tags=["contacts"])


@router.post("/campaigns/{campaign_id}/contacts", status_code=201, response_model=ContactRead)
def create_contact(
    campaign_id: RecordId, body: ContactCreate, session: DbSession, who: CurrentPrincipal
) -> Contact:
    tenant = get_tenant(session, who.tenant_id)
    campaign = get_campaign(session, who.tenant_id, campaign_id)
    return service.create_contact(session, tenant, campaign, body)


@router.get("/contacts", response_model=Page[ContactRead])
def list_contacts(
    session: DbSession,
    who: CurrentPrincipal,
    page: PageParams,
    campaign_id: Annotated[int | None, Query(ge=1)] = None,
    list_id: Annotated[int | None, Query(ge=1)] = None,
    status: ContactStatus | None = None,
    locked: bool | None = None,
    phone: Annotated[str | None, Query(max_length=64, description="Any of the six")] = None,
    user_data: Annotated[str | None, Query(max_length=255)] = None,
    external_id: Annotated[str | None, Query(max_length=255)] = None,
) -> Page[ContactRead]:
    stmt = service.contacts_query(
        get_tenant(session, who.tenant_id),
        campaign_id=campaign_id,
        list_id=list_id,
        status=status,
        locked=locked,
        phone=phone,
        user_data=user_data,
        external_id=external_id,
    )
    return fetch_page(session, stmt, Contact.id, page, ContactRead)


@router.get("/contacts/{contact_id}", response_model=ContactRead)
def get_contact(contact_id: RecordId, session: DbSession, who: CurrentPrincipal) -> Contact:
    return service.get_contact(session, who.tenant_id, contact_id)


@router.patch("/contacts/{contact_id}", response_model=ContactRead)
def update_contact(
    contact_id: RecordId, body: ContactUpdate, session: DbSession, who: CurrentPrincipal
) -> Contact:
    return service.update_contact(session, get_tenant(session, who.tenant_id), contact_id, body)


@router.delete("/contacts/{contact_id}", status_code=204)
def delete_contact(contact_id: RecordId, session: DbSession, who: CurrentPrincipal) -> None:
    service.delete_contact(session, who.tenant_id, contact_id)


@router.post("/contacts/{contact_id}:lock", response_model=ContactRead)
def lock(contact_id: RecordId, session: DbSession, who: CurrentPrincipal) -> Contact:
    """Never dial this contact until it is unlocked."""
    return service.lock_contact(session, who.tenant_id, contact_id)


@router.post("/contacts/{contact_id}:unlock", response_model=ContactRead)
def unlock(contact_id: RecordId, session: DbSession, who: CurrentPrincipal) -> Contact:
    return service.unlock_contact(session, who.tenant_id, contact_id)


@router.post("/contacts/{contact_id}:reset", response_model=ContactRead)
def reset(contact_id: RecordId, session: DbSession, who: CurrentPrincipal) -> Contact:
    """As if newly imported: tries and result cleared, due now."""
    return service.reset_contact(session, who.tenant_id, contact_id)


@router.get("/contacts/{contact_id}/history", response_model=Page[CallAttemptRead])
def history(
    contact_id: RecordId, session: DbSession, who: CurrentPrincipal, page: PageParams
) -> Page[CallAttemptRead]:
    stmt = service.history_query(session, who.tenant_id, contact_id)
    return fetch_page(session, stmt, CallAttempt.id, page, CallAttemptRead)
